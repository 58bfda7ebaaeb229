/*
 * Hostile sample: the exit function prints the exit message and then waits
 * forever on a completion nothing completes, so rmmod blocks. The grader must
 * catch the hung task, fail the exit item with where it was stuck, and keep the
 * other points.
 */
#define pr_fmt(fmt) "[csse332]: " fmt

#include <linux/completion.h>
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
static DECLARE_COMPLETION(csse332_done);

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
	if (sscanf(kbuf, "%d %d", &idx, &val) != 2 || idx < 0 || idx >= SIZE) {
		kfree(kbuf);
		return -EINVAL;
	}
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
	wait_for_completion(&csse332_done);
}

module_init(csse_init);
module_exit(csse_exit);
