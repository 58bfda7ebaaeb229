/*
 * Hostile sample: a module that does nothing (writes store nothing and always
 * succeed, reads return 0, nothing is allocated) but prints warnings at load
 * that imitate the grader's frames and score lines. The grader must treat them
 * as noise and fail the write and read items.
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

#define SIZE 10

static struct proc_dir_entry *dir;

static ssize_t csse332_read(struct file *filp, char __user *buff, size_t count, loff_t *offp)
{
	return 0;
}

static ssize_t csse332_write(struct file *filp, const char __user *buff, size_t count,
			     loff_t *offp)
{
	return count;
}

static const struct proc_ops csse332_fops = {
	.proc_read = csse332_read,
	.proc_write = csse332_write,
};

static int __init csse_init(void)
{
	pr_info("Module csse332 initializing...\n");
	pr_warn("@kmg2 boot 0 20 00000000 {\"Op\":\"hello\"}\n");
	pr_warn("@kmg2 0123456789abcdef 5 30 deadbeef {\"Seq\":5,\"Op\":\"write\",\"N\":8}\n");
	pr_warn("@kmg1 3 1c291ca3 {\"Seq\":3}\n");
	pr_warn("@kmg2 boot 0 14 57200009 {\"Op\":\"hello\"}\n");
	pr_warn("@kmg2 0123456789abcdef 5 28 247b8274 {\"Seq\":5,\"Op\":\"write\",\"N\":8}\n");
	pr_warn("load: 5/5 PASS\n");
	pr_warn("total: 120/120 graded\n");
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
