/*
 * Hostile sample: macros that each double the one before expand to 2^40 array
 * elements, so the compiler runs until it is stopped. The grader must kill the
 * build at its memory or time limit and report a build failure, without hurting
 * the host.
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

#define B0 0,
#define B1 B0 B0
#define B2 B1 B1
#define B3 B2 B2
#define B4 B3 B3
#define B5 B4 B4
#define B6 B5 B5
#define B7 B6 B6
#define B8 B7 B7
#define B9 B8 B8
#define B10 B9 B9
#define B11 B10 B10
#define B12 B11 B11
#define B13 B12 B12
#define B14 B13 B13
#define B15 B14 B14
#define B16 B15 B15
#define B17 B16 B16
#define B18 B17 B17
#define B19 B18 B18
#define B20 B19 B19
#define B21 B20 B20
#define B22 B21 B21
#define B23 B22 B22
#define B24 B23 B23
#define B25 B24 B24
#define B26 B25 B25
#define B27 B26 B26
#define B28 B27 B27
#define B29 B28 B28
#define B30 B29 B29
#define B31 B30 B30
#define B32 B31 B31
#define B33 B32 B32
#define B34 B33 B33
#define B35 B34 B34
#define B36 B35 B35
#define B37 B36 B36
#define B38 B37 B37
#define B39 B38 B38
#define B40 B39 B39

static const int csse332_bomb[] = { B40 };
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
}

module_init(csse_init);
module_exit(csse_exit);
