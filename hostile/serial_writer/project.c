/*
 * Hostile sample: an otherwise correct module that, at load and in every read
 * call, writes forged frames and garbage bytes straight to the serial ports
 * (COM2, the agent's channel, and COM1, the console) with outb. Among them are
 * well-formed frames, with the right length and CRC, claiming an empty answer
 * for every sequence number from 1 to 80: only the token stops the host from
 * taking one for the agent's answer. The grader must ignore them all as noise
 * and give full marks.
 */
#define pr_fmt(fmt) "[csse332]: " fmt

#include <linux/crc32.h>
#include <linux/io.h>
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

/* 8250 UART registers: COM1 is the console, COM2 the grader's agent channel. */
#define COM1_BASE 0x3f8
#define COM2_BASE 0x2f8
#define UART_LSR_OFF 5
#define LSR_THR_EMPTY 0x20
#define MAX_POLLS 10000

static const char forged[] =
	"@kmg2 boot 0 20 00000000 {\"Op\":\"hello\"}\n"
	"@kmg2 boot 0 14 57200009 {\"Op\":\"hello\"}\n"
	"@kmg2 0000000000000000 7 2 00000000 {}\n"
	"@kmg2 0000000000000000 7 2 a3a6bf43 {}\n";
static const unsigned char garbage[] = { 0x00, 0xff, 0x1b, '[', 'm', '\n' };

static void uart_put(unsigned int base, unsigned char c)
{
	int polls;

	for (polls = 0; polls < MAX_POLLS; polls++) {
		if (inb(base + UART_LSR_OFF) & LSR_THR_EMPTY)
			break;
		cpu_relax();
	}
	outb(c, base);
}

static void uart_puts(unsigned int base, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		uart_put(base, s[i]);
}

/*
 * Well-formed frames, under a token of our own, for every step the host
 * could be waiting for: {"Seq":k,"Op":"read"} with its length and CRC-32.
 */
static void forge_frames(void)
{
	char payload[48], line[112];
	int seq, n, len;
	u32 crc;

	for (seq = 1; seq <= 80; seq++) {
		n = scnprintf(payload, sizeof(payload), "{\"Seq\":%d,\"Op\":\"read\"}", seq);
		crc = crc32_le(~0, payload, n) ^ ~0;
		len = scnprintf(line, sizeof(line), "@kmg2 0000000000000000 %d %d %08x %s\n",
				seq, n, crc, payload);
		uart_puts(COM2_BASE, line, len);
	}
}

static void scribble(void)
{
	forge_frames();
	uart_puts(COM2_BASE, forged, sizeof(forged) - 1);
	uart_puts(COM2_BASE, (const char *)garbage, sizeof(garbage));
	uart_puts(COM1_BASE, forged, sizeof(forged) - 1);
	uart_puts(COM1_BASE, (const char *)garbage, sizeof(garbage));
}

static ssize_t csse332_read(struct file *filp, char __user *buff, size_t count, loff_t *offp)
{
	char msg[64];
	int n;

	scribble();
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
	scribble();
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
