/*
 * Sample submission: logs the writer's task state with current->state, a field
 * renamed __state in Linux 5.14. It does not build on the grading kernel, and
 * the feedback says it is a version mismatch, not a typo.
 */
#define pr_fmt(fmt) "[csse332]: " fmt

#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/printk.h>
#include <linux/proc_fs.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/sched.h>

MODULE_LICENSE("GPL");
MODULE_AUTHOR("kmodgrade");
MODULE_DESCRIPTION("Milestone 1 reference: an int array behind procfs");

#define NUM_ENTRIES 10
#define MAX_COMMAND 64

static int *entries;
static struct proc_dir_entry *csse332_dir;

static ssize_t csse332_read(struct file *filp, char __user *buff,
			    size_t count, loff_t *offp)
{
	char line[32];
	int len;

	if (*offp < 0 || *offp >= NUM_ENTRIES)
		return 0;

	len = scnprintf(line, sizeof(line), "%d\n", entries[*offp]);
	if (count < len)
		return -EINVAL;
	if (copy_to_user(buff, line, len))
		return -EFAULT;

	*offp += 1;
	return len;
}

static ssize_t csse332_write(struct file *filp, const char __user *buff,
			     size_t count, loff_t *offp)
{
	char *command;
	int index, value;
	ssize_t ret = count;

	if (count > MAX_COMMAND)
		return -EINVAL;

	command = kmalloc(count + 1, GFP_KERNEL);
	if (!command)
		return -ENOMEM;
	if (copy_from_user(command, buff, count)) {
		ret = -EFAULT;
		goto out;
	}
	command[count] = '\0';

	if (sscanf(command, "%d %d", &index, &value) != 2) {
		ret = -EINVAL;
		goto out;
	}
	if (index < 0 || index >= NUM_ENTRIES) {
		ret = -EINVAL;
		goto out;
	}
	entries[index] = value;
	pr_debug("written by a task in state %ld\n", (long)current->state);

out:
	kfree(command);
	return ret;
}

static const struct proc_ops csse332_fops = {
	.proc_read = csse332_read,
	.proc_write = csse332_write,
};

static int __init csse_init(void)
{
	pr_info("Module csse332 initializing...\n");

	entries = kcalloc(NUM_ENTRIES, sizeof(*entries), GFP_KERNEL);
	if (!entries)
		return -ENOMEM;

	csse332_dir = proc_mkdir("csse332", NULL);
	if (!csse332_dir)
		goto fail;
	if (!proc_create("status", 0666, csse332_dir, &csse332_fops)) {
		remove_proc_entry("csse332", NULL);
		goto fail;
	}
	return 0;

fail:
	kfree(entries);
	return -ENOMEM;
}

static void __exit csse_exit(void)
{
	remove_proc_subtree("csse332", NULL);
	kfree(entries);
	pr_info("Module csse332 exiting...\n");
}

module_init(csse_init);
module_exit(csse_exit);
