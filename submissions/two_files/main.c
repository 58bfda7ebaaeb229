/*
 * Sample submission: a complete milestone 1 split over two source files
 * (main.c and proc.c) linked into one module, rtsched.ko. It must score full
 * marks.
 */
#include "rtsched.h"

#include <linux/module.h>
#include <linux/slab.h>

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Milestone 1 in two files");

int *entries;
static struct proc_dir_entry *dir;

static int __init rtsched_init(void)
{
	pr_info("Module csse332 initializing...\n");
	entries = kmalloc_array(NUM_ENTRIES, sizeof(int), GFP_KERNEL | __GFP_ZERO);
	if (!entries)
		return -ENOMEM;
	dir = proc_mkdir("csse332", NULL);
	if (!dir || !proc_create("status", 0666, dir, &status_ops)) {
		proc_remove(dir);
		kfree(entries);
		return -ENOMEM;
	}
	return 0;
}

static void __exit rtsched_exit(void)
{
	proc_remove(dir);
	kfree(entries);
	pr_info("Module csse332 exiting...\n");
}

module_init(rtsched_init);
module_exit(rtsched_exit);
