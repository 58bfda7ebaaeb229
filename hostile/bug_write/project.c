/*
 * Hostile sample: the write handler checks the index with BUG_ON() instead of
 * returning -EINVAL, so an out-of-bounds write oopses the kernel. The grader
 * must fail the out-of-bounds part of the write item, showing the BUG, and
 * grade the rest.
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

static int arr[SIZE];
static struct proc_dir_entry *dir;

static ssize_t csse332_read(struct file *filp, char __user *buff, size_t count, loff_t *offp)
{
	char msg[64];
	int n;

	if (*offp >= SIZE)
		return 0;
	n = snprintf(msg, sizeof(msg), "%lld: %d\n", *offp, arr[*offp]);
	if (n > count)
		n = count;
	if (copy_to_user(buff, msg, n))
		return -EFAULT;
	(*offp)++;
	return n;
}

static ssize_t csse332_write(struct file *filp, const char __user *buff, size_t count,
			     loff_t *offp)
{
	char *kbuf = kzalloc(count + 1, GFP_KERNEL);
	int idx, val;

	if (!kbuf)
		return -ENOMEM;
	if (copy_from_user(kbuf, buff, count)) {
		kfree(kbuf);
		return -EFAULT;
	}
	if (sscanf(kbuf, "%d %d", &idx, &val) != 2) {
		kfree(kbuf);
		return -EINVAL;
	}
	BUG_ON(idx < 0 || idx >= SIZE);
	arr[idx] = val;
	kfree(kbuf);
	return count;
}

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
