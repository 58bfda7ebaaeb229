/*
 * kmodgrade's compatibility layer for <linux/proc_fs.h>.
 *
 * Kernels before 5.6 took a struct file_operations in proc_create; later
 * ones take a struct proc_ops. Courses hand students both forms, so the
 * grader puts this folder first on the include path when it builds a module:
 * the real header is included unchanged, and then proc_create (and
 * proc_create_data) also accept a file_operations table, which is copied
 * into a proc_ops table of the same handlers.
 *
 * It changes nothing else: the student's file, its pr_fmt and its line
 * numbers are untouched, and the tables live in static storage, so the
 * memory check sees no allocation that is not the student's.
 */
#include_next <linux/proc_fs.h>

#ifndef KMODGRADE_PROC_FS_COMPAT
#define KMODGRADE_PROC_FS_COMPAT

#include <linux/version.h>

#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, 6, 0)

#include <linux/fs.h>

/* How many distinct file_operations tables one source file can register. */
#define KMODGRADE_PROC_OPS_SLOTS 16

static struct {
	const struct file_operations *fops;
	struct proc_ops ops;
} kmodgrade_proc_ops_slots[KMODGRADE_PROC_OPS_SLOTS] __maybe_unused;

static inline __maybe_unused const struct proc_ops *
kmodgrade_proc_ops(const struct file_operations *fops)
{
	int i;

	if (!fops)
		return NULL;
	for (i = 0; i < KMODGRADE_PROC_OPS_SLOTS; i++) {
		struct proc_ops *ops = &kmodgrade_proc_ops_slots[i].ops;

		if (kmodgrade_proc_ops_slots[i].fops == fops)
			return ops;
		if (kmodgrade_proc_ops_slots[i].fops)
			continue;
		kmodgrade_proc_ops_slots[i].fops = fops;
		ops->proc_open = fops->open;
		ops->proc_read = fops->read;
		ops->proc_read_iter = fops->read_iter;
		ops->proc_write = fops->write;
		ops->proc_lseek = fops->llseek;
		ops->proc_release = fops->release;
		ops->proc_poll = fops->poll;
		ops->proc_ioctl = fops->unlocked_ioctl;
#ifdef CONFIG_COMPAT
		ops->proc_compat_ioctl = fops->compat_ioctl;
#endif
		ops->proc_mmap = fops->mmap;
		ops->proc_get_unmapped_area = fops->get_unmapped_area;
		return ops;
	}
	return NULL;
}

static inline __maybe_unused struct proc_dir_entry *
kmodgrade_proc_create_fops(const char *name, umode_t mode, struct proc_dir_entry *parent,
			   const struct file_operations *fops)
{
	const struct proc_ops *ops = kmodgrade_proc_ops(fops);

	return ops ? proc_create(name, mode, parent, ops) : NULL;
}

static inline __maybe_unused struct proc_dir_entry *
kmodgrade_proc_create_data_fops(const char *name, umode_t mode, struct proc_dir_entry *parent,
				const struct file_operations *fops, void *data)
{
	const struct proc_ops *ops = kmodgrade_proc_ops(fops);

	return ops ? proc_create_data(name, mode, parent, ops, data) : NULL;
}

/*
 * Inside its own expansion a macro's name is not expanded again, so the
 * default branches below name the kernel's own functions.
 */
#define proc_create(name, mode, parent, ops)					\
	_Generic((ops),								\
		 const struct file_operations *: kmodgrade_proc_create_fops,	\
		 struct file_operations *: kmodgrade_proc_create_fops,		\
		 default: proc_create)(name, mode, parent, ops)

#define proc_create_data(name, mode, parent, ops, data)				\
	_Generic((ops),								\
		 const struct file_operations *: kmodgrade_proc_create_data_fops, \
		 struct file_operations *: kmodgrade_proc_create_data_fops,	\
		 default: proc_create_data)(name, mode, parent, ops, data)

#endif /* 5.6 and later */
#endif /* KMODGRADE_PROC_FS_COMPAT */
