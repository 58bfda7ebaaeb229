#include "rtsched.h"

#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

static ssize_t status_read(struct file *f, char __user *buf, size_t count, loff_t *pos)
{
	char line[16];
	int len;

	if (*pos >= NUM_ENTRIES)
		return 0;
	len = scnprintf(line, sizeof(line), "%d\n", entries[*pos]);
	if (count < len || copy_to_user(buf, line, len))
		return -EFAULT;
	*pos += 1;
	return len;
}

static ssize_t status_write(struct file *f, const char __user *buf, size_t count, loff_t *pos)
{
	char *cmd;
	int index, value, ret = count;

	cmd = memdup_user_nul(buf, count);
	if (IS_ERR(cmd))
		return PTR_ERR(cmd);
	if (sscanf(cmd, "%d %d", &index, &value) != 2 || index < 0 || index >= NUM_ENTRIES)
		ret = -EINVAL;
	else
		entries[index] = value;
	kfree(cmd);
	return ret;
}

const struct proc_ops status_ops = {
	.proc_read = status_read,
	.proc_write = status_write,
};
