/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The only code in dma-ownerd that writes to sysfs. Every path is resolved relative to directory fds: the sysfs root
 * opened once, and per step the device's directory, so that the identity check and the writes that follow it are
 * about the same kernel object even if the address is reused in between. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actuator.h"
#include "dma-ownerd/macro.h"
#include "dma-ownerd/pci-address.h"
#include "dma-ownerd/time-util.h"

struct Actuator {
        int root_fd;
        ActuatorWriteHook write_hook;
        void *write_hook_userdata;
        pthread_mutex_t hook_lock; /* serialises hooked writes across actuator_run_parallel()'s threads */
        _Atomic uint64_t kernel_usec;
        _Atomic uint64_t kernel_cpu_usec;
        _Atomic uint64_t last_write_usec;     /* CLOCK_MONOTONIC when the last store returned */
        _Atomic uint64_t last_write_cpu_usec; /* the writing thread's CPU clock then */
};

int actuator_new(const char *sysfs_root, Actuator **ret) {
        _cleanup_close_ int fd = -EBADF;
        Actuator *a;

        if (!sysfs_root || !ret)
                return -EINVAL;

        /* O_PATH: the root is only ever used as the anchor of openat()/readlinkat(), never read itself. */
        fd = open(sysfs_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;

        a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->root_fd = TAKE_FD(fd);
        (void) pthread_mutex_init(&a->hook_lock, NULL);

        *ret = a;
        return 0;
}

Actuator *actuator_free(Actuator *a) {
        if (!a)
                return NULL;
        if (a->root_fd >= 0)
                (void) close(a->root_fd);
        (void) pthread_mutex_destroy(&a->hook_lock);
        free(a);
        return NULL;
}

void actuator_set_write_hook(Actuator *a, ActuatorWriteHook hook, void *userdata) {
        if (!a)
                return;
        a->write_hook = hook;
        a->write_hook_userdata = userdata;
}

/* Open one attribute for writing. Never O_CREAT: a missing attribute must fail, not appear as a new file. O_TRUNC is
 * ignored by sysfs (each write(2) is one complete store), but the test trees are regular files where it makes the
 * file hold exactly the last value written, as reading a sysfs attribute back would. */
static int open_attribute(int dir_fd, const char *relpath) {
        int fd = openat(dir_fd, relpath, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return -errno;
        return fd;
}

/* One store: sysfs hands each write(2) to the attribute's store() as a whole, so the value must go in a single call,
 * and a partial write means the kernel did not take it. */
static int store_attribute(Actuator *a, int dir_fd, const char *relpath, const char *hook_relpath,
                           const char *value) {
        _cleanup_close_ int fd = -EBADF;
        size_t size = strlen(value);
        uint64_t start, start_cpu;
        ssize_t n;
        int saved_errno;

        /* Before the open: O_TRUNC would already empty a test tree's file. */
        if (a->write_hook) {
                int r = a->write_hook(hook_relpath, value, a->write_hook_userdata);
                if (r < 0)
                        return r;
        }

        fd = open_attribute(dir_fd, relpath);
        if (fd < 0)
                return fd;

        start = now_usec();
        start_cpu = thread_cpu_usec();
        do
                n = write(fd, value, size);
        while (n < 0 && errno == EINTR);
        saved_errno = errno;
        uint64_t end = now_usec(), end_cpu = thread_cpu_usec();
        atomic_fetch_add_explicit(&a->kernel_cpu_usec, end_cpu - start_cpu, memory_order_relaxed);
        atomic_fetch_add_explicit(&a->kernel_usec, end - start, memory_order_relaxed);
        atomic_store_explicit(&a->last_write_usec, end, memory_order_relaxed);
        atomic_store_explicit(&a->last_write_cpu_usec, end_cpu, memory_order_relaxed);
        if (n < 0)
                return -saved_errno;
        if ((size_t) n != size)
                return -EIO;
        return 0;
}

static int write_attribute(Actuator *a, int dir_fd, const char *relpath, const char *hook_relpath,
                           const char *value) {
        int r;

        if (!a->write_hook)
                return store_attribute(a, dir_fd, relpath, hook_relpath, value);

        (void) pthread_mutex_lock(&a->hook_lock);
        r = store_attribute(a, dir_fd, relpath, hook_relpath, value);
        (void) pthread_mutex_unlock(&a->hook_lock);
        return r;
}

/* readlinkat() into a buffer that grows until the target fits. */
static int readlinkat_malloc(int dir_fd, const char *relpath, char **ret) {
        size_t size = 256;

        for (;;) {
                _cleanup_free_ char *buf = malloc(size);
                ssize_t n;

                if (!buf)
                        return -ENOMEM;
                n = readlinkat(dir_fd, relpath, buf, size);
                if (n < 0)
                        return -errno;
                if ((size_t) n < size) {
                        buf[n] = '\0';
                        *ret = TAKE_PTR(buf);
                        return 0;
                }
                if (size > 64 * 1024)
                        return -ENAMETOOLONG;
                size *= 2;
        }
}

/* The name of the driver bound to the device: the basename of its `driver` link. *ret = NULL when unbound. */
static int read_bound_driver(int dev_fd, char **ret) {
        _cleanup_free_ char *target = NULL;
        const char *name;
        char *copy;
        int r;

        r = readlinkat_malloc(dev_fd, "driver", &target);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        if (r < 0)
                return r;

        name = strrchr(target, '/');
        name = name ? name + 1 : target;
        if (!driver_name_is_valid(name))
                return -EIO;

        copy = strdup(name);
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        return 0;
}

/* A small sysfs id attribute: "0x8086\n". */
static int read_id(int dev_fd, const char *name, uint16_t *ret) {
        _cleanup_close_ int fd = -EBADF;
        char buf[32];
        char *end;
        ssize_t n;
        unsigned long v;

        fd = openat(dev_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return errno == ENOENT ? -ENODEV : -errno;

        do
                n = read(fd, buf, sizeof(buf) - 1);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return errno == ENOENT ? -ENODEV : -errno;
        buf[n] = '\0';

        if (strncmp(buf, "0x", 2) != 0)
                return -EIO;
        errno = 0;
        v = strtoul(buf + 2, &end, 16);
        if (errno != 0 || end == buf + 2 || (*end != '\n' && *end != '\0') || v > 0xffff)
                return -EIO;

        *ret = (uint16_t) v;
        return 0;
}

static int check_identity(int dev_fd, const Device *expected) {
        uint16_t vendor, device;
        int r;

        r = read_id(dev_fd, "vendor", &vendor);
        if (r < 0)
                return r;
        r = read_id(dev_fd, "device", &device);
        if (r < 0)
                return r;

        if (vendor != expected->id.vendor || device != expected->id.device)
                return -ESTALE;
        return 0;
}

static bool step_uses_driver(StepKind kind) {
        return kind == STEP_SET_OVERRIDE || kind == STEP_UNBIND;
}

/* "bus/pci/devices/ADDR/ATTR", the path the write hook is shown. Only built when a hook wants to see it: production
 * runs without one. */
static int hook_path(const Actuator *a, const char *address, const char *attribute, char **ret) {
        if (!a->write_hook) {
                *ret = NULL;
                return 0;
        }
        if (asprintf(ret, "bus/pci/devices/%s/%s", address, attribute) < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

static int run_unbind(Actuator *a, int dev_fd, const char *address, const Step *step) {
        _cleanup_free_ char *bound = NULL, *relpath = NULL;
        int r;

        r = read_bound_driver(dev_fd, &bound);
        if (r < 0)
                return r;
        if (!bound)
                return 0; /* already unbound: the goal is reached, nothing to write */
        if (strcmp(bound, step->driver) != 0)
                return -ESTALE;

        r = hook_path(a, address, "driver/unbind", &relpath);
        if (r < 0)
                return r;

        /* "driver/unbind" follows the link as it is now. Should another driver have bound since the check above, the
         * kernel's unbind_store() refuses a device that is not bound to the driver whose file it is (-ENODEV). */
        r = write_attribute(a, dev_fd, "driver/unbind", relpath, address);
        if (r == -ENOENT) {
                /* The driver let go in between: no link any more means we got what we wanted. */
                _cleanup_free_ char *now = NULL;

                if (read_bound_driver(dev_fd, &now) >= 0 && !now)
                        return 0;
                return -ENODEV;
        }
        return r;
}

int actuator_run(Actuator *a, const Device *expected, const Step *step) {
        _cleanup_free_ char *devpath = NULL, *relpath = NULL;
        _cleanup_close_ int dev_fd = -EBADF;
        const char *address;
        int r;

        if (!a || !expected || !step)
                return -EINVAL;
        if ((unsigned) step->kind >= _STEP_KIND_MAX)
                return -EINVAL;

        /* Validated before either reaches a path or the bus, whatever the caller believes it checked. */
        address = expected->id.address;
        if (!pci_address_is_valid(address))
                return -EINVAL;
        if (step_uses_driver(step->kind) && !driver_name_is_valid(step->driver))
                return -EINVAL;

        if (asprintf(&devpath, "bus/pci/devices/%s", address) < 0) {
                devpath = NULL;
                return -ENOMEM;
        }

        /* Following the bus link to the device's own directory; O_PATH as nothing reads the directory itself. */
        dev_fd = openat(a->root_fd, devpath, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dev_fd < 0)
                return errno == ENOENT ? -ENODEV : -errno;

        r = check_identity(dev_fd, expected);
        if (r < 0)
                return r;

        switch (step->kind) {

        case STEP_SET_OVERRIDE:
                r = hook_path(a, address, "driver_override", &relpath);
                if (r < 0)
                        return r;
                r = write_attribute(a, dev_fd, "driver_override", relpath, step->driver);
                break;

        case STEP_CLEAR_OVERRIDE:
                /* The kernel clears the override on an empty value; a lone newline is what `echo >` writes. */
                r = hook_path(a, address, "driver_override", &relpath);
                if (r < 0)
                        return r;
                r = write_attribute(a, dev_fd, "driver_override", relpath, "\n");
                break;

        case STEP_UNBIND:
                return run_unbind(a, dev_fd, address, step);

        case STEP_PROBE:
                r = write_attribute(a, a->root_fd, "bus/pci/drivers_probe", "bus/pci/drivers_probe", address);
                break;

        default:
                return -EINVAL;
        }

        /* An attribute of the device that vanished under us: the device is going away. */
        if (r == -ENOENT && step->kind != STEP_PROBE)
                return -ENODEV;
        return r;
}

typedef struct ParallelRun {
        Actuator *actuator;
        const Device *const *expected;
        const Step *const *steps;
        int *results;
        size_t n;
        atomic_size_t next; /* the next step to take: each worker takes one at a time until none is left */

        /* With a write hook (tests, fault seams) the steps take turns in array order, on the same threads, so that
         * "the K-th write" means the same write in every run. */
        bool in_turn;
        size_t turn;
        pthread_mutex_t turn_lock;
        pthread_cond_t turn_done;
} ParallelRun;

static void *parallel_worker(void *userdata) {
        ParallelRun *run = userdata;

        for (;;) {
                size_t i = atomic_fetch_add(&run->next, 1);
                if (i >= run->n)
                        return NULL;

                if (run->in_turn) {
                        (void) pthread_mutex_lock(&run->turn_lock);
                        while (run->turn != i)
                                (void) pthread_cond_wait(&run->turn_done, &run->turn_lock);
                        (void) pthread_mutex_unlock(&run->turn_lock);
                }

                run->results[i] = actuator_run(run->actuator, run->expected[i], run->steps[i]);

                if (run->in_turn) {
                        (void) pthread_mutex_lock(&run->turn_lock);
                        run->turn++;
                        (void) pthread_cond_broadcast(&run->turn_done);
                        (void) pthread_mutex_unlock(&run->turn_lock);
                }
        }
}

int actuator_run_parallel(Actuator *a, const Device *const *expected, const Step *const *steps, size_t n,
                          int *ret_results) {
        pthread_t threads[ACTUATOR_PARALLEL_MAX - 1];
        bool started[ACTUATOR_PARALLEL_MAX - 1] = {};
        ParallelRun run = {
                .actuator = a,
                .expected = expected,
                .steps = steps,
                .results = ret_results,
                .n = n,
                .turn_lock = PTHREAD_MUTEX_INITIALIZER,
                .turn_done = PTHREAD_COND_INITIALIZER,
        };
        size_t extra;

        if (!a || (n > 0 && (!expected || !steps || !ret_results)))
                return -EINVAL;
        run.in_turn = a->write_hook != NULL;

        /* The caller's thread is a worker too; a single step needs no other. */
        extra = n > ACTUATOR_PARALLEL_MAX ? ACTUATOR_PARALLEL_MAX - 1 : (n > 0 ? n - 1 : 0);

        pthread_attr_t attr;
        bool have_attr = pthread_attr_init(&attr) == 0;
        if (have_attr)
                (void) pthread_attr_setstacksize(&attr, 64 * 1024); /* actuator_run keeps its buffers on the heap */
        for (size_t t = 0; t < extra; t++)
                started[t] = pthread_create(&threads[t], have_attr ? &attr : NULL, parallel_worker, &run) == 0;
        if (have_attr)
                (void) pthread_attr_destroy(&attr);

        (void) parallel_worker(&run);
        for (size_t t = 0; t < extra; t++)
                if (started[t])
                        (void) pthread_join(threads[t], NULL);
        return 0;
}

uint64_t actuator_kernel_usec(const Actuator *a) {
        return a ? atomic_load_explicit(&((Actuator *) a)->kernel_usec, memory_order_relaxed) : 0;
}

uint64_t actuator_kernel_cpu_usec(const Actuator *a) {
        return a ? atomic_load_explicit(&((Actuator *) a)->kernel_cpu_usec, memory_order_relaxed) : 0;
}

void actuator_last_write(const Actuator *a, uint64_t *ret_usec, uint64_t *ret_cpu_usec) {
        Actuator *w = (Actuator *) a;

        *ret_usec = a ? atomic_load_explicit(&w->last_write_usec, memory_order_relaxed) : 0;
        *ret_cpu_usec = a ? atomic_load_explicit(&w->last_write_cpu_usec, memory_order_relaxed) : 0;
}
