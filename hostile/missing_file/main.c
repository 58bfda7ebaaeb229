/*
 * Hostile sample: the Makefile links the module from main.o and helpers.o, but
 * helpers.c (with the read and write handlers) was not handed in. The build
 * must fail, and the feedback must say helpers.c is missing.
 */
#define pr_fmt(fmt) "[csse332]: " fmt

#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/printk.h>
#include <linux/proc_fs.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

MODULE_LICENSE("GPL");
MODULE_AUTHOR("Ada Lovelace and Charles Babbage");
MODULE_DESCRIPTION("Milestone 1: an array of ints in /proc/csse332/status");

static struct proc_dir_entry *dir;

/* Defined in helpers.c. */
extern ssize_t csse332_read(struct file *filp, char __user *buff, size_t count,
			    loff_t *offp);
extern ssize_t csse332_write(struct file *filp, const char __user *buff, size_t count,
			     loff_t *offp);

static const struct proc_ops csse332_fops = {
	.proc_read = csse332_read,
	.proc_write = csse332_write,
};

static int __init csse_init(void)
{
	pr_info("Module csse332 initializing...\n");
	dir = proc_mkdir("csse332", NULL);
	if (!dir)
		return -ENOMEM;
	if (!proc_create("status", 0666, dir, &csse332_fops)) {
		proc_remove(dir);
		return -ENOMEM;
	}
	return 0;
}

static void __exit csse_exit(void)
{
	proc_remove(dir);
	pr_info("Module csse332 exiting...\n");
}

module_init(csse_init);
module_exit(csse_exit);
