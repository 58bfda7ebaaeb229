#ifndef RTSCHED_H
#define RTSCHED_H

#define pr_fmt(fmt) "[csse332]: " fmt

#include <linux/proc_fs.h>

#define NUM_ENTRIES 10

extern int *entries;
extern const struct proc_ops status_ops;

#endif
