/*
 * fcshim: an LD_PRELOAD library that makes a QEMU process look like
 * Firecracker to the host: the process's main thread is named
 * "firecracker" (its comm), and QEMU's vCPU threads, which it names
 * "CPU N/TCG" (or "CPU N/KVM") with -name ...,debug-threads=on, are
 * named "fc_vcpu N" as Firecracker names them. A thread can be named
 * only from inside its own process, hence a preloaded library.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/prctl.h>

static int (*real_setname)(pthread_t, const char *);

__attribute__((constructor)) static void fcshim_init(void)
{
	prctl(PR_SET_NAME, "firecracker", 0, 0, 0);
}

int pthread_setname_np(pthread_t thread, const char *name)
{
	char buf[16];
	int n;

	if (!real_setname)
		real_setname = (int (*)(pthread_t, const char *))dlsym(RTLD_NEXT, "pthread_setname_np");
	if (!real_setname)
		return 0;
	if (sscanf(name, "CPU %d/", &n) == 1) {
		snprintf(buf, sizeof buf, "fc_vcpu %d", n);
		return real_setname(thread, buf);
	}
	return real_setname(thread, name);
}
