/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The only code that writes to sysfs. Each step opens the device's directory once (O_PATH), re-checks through that
 * fd that it is still the device the model knows (vendor and device ids), then writes relative to it:
 *
 *   STEP_SET_OVERRIDE    <dev>/driver_override  ← "DRIVER"
 *   STEP_CLEAR_OVERRIDE  <dev>/driver_override  ← "\n"
 *   STEP_UNBIND          <dev>/driver/unbind    ← "ADDRESS"  (after checking <dev>/driver names the expected driver)
 *   STEP_PROBE           <sysfs_root>/bus/pci/drivers_probe ← "ADDRESS"
 *
 * Nothing here updates the model: the caller re-reads the touched device afterwards. */

#include "engine.h"
#include "model.h"

typedef struct Actuator Actuator;

int actuator_new(const char *sysfs_root, Actuator **ret);
Actuator *actuator_free(Actuator *a);

/* Returns 0 on success (an UNBIND of a device that is already unbound is a success with nothing written); -ENODEV
 * when the device is gone; -ESTALE when another device now sits at that address, or an UNBIND finds a different
 * driver bound than expected; otherwise the errno of the failed open or write (EBUSY, EINVAL, EACCES, EIO…). */
int actuator_run(Actuator *a, const Device *expected, const Step *step);

/* Runs steps[i] against expected[i] for every i < n at once, on up to ACTUATOR_PARALLEL_MAX threads (the caller's
 * among them), and stores what actuator_run() returned for each in ret_results[i]. For the members of one group:
 * the kernel's unbind and probe of a device mostly wait (RCU grace periods, resets, power-state delays), and the
 * waits of different devices overlap. The steps must be about distinct devices. Returns 0 once every step has run
 * (when a thread cannot be started, the others take its share), or -EINVAL. */
#define ACTUATOR_PARALLEL_MAX 8u
int actuator_run_parallel(Actuator *a, const Device *const *expected, const Step *const *steps, size_t n,
                          int *ret_results);

/* Microseconds spent inside write(2) on sysfs attributes since actuator_new(), summed over threads: the kernel's
 * own work behind our stores (a driver's remove() on unbind, a probe on drivers_probe), which the daemon waits for
 * but does not do. Subtracted from a latency, it leaves the daemon's own time. */
uint64_t actuator_kernel_usec(const Actuator *a);
/* The same, counted in CPU time of the writing threads (the kernel's work runs on them, as system time). */
uint64_t actuator_kernel_cpu_usec(const Actuator *a);
/* When the last store returned: CLOCK_MONOTONIC, and the CPU clock of the thread that made it (0 before any). */
void actuator_last_write(const Actuator *a, uint64_t *ret_usec, uint64_t *ret_cpu_usec);

/* Test seam: called before every write (before the file is even opened) with the path relative to the sysfs root and
 * the bytes about to be written. Returning a negative errno makes the write fail with it, without touching the file.
 * While a hook is set, writes (hook call, open and write) happen one at a time, and actuator_run_parallel() runs
 * its steps in array order (still on its threads): the hook stands in for the kernel and sees the same sequence of
 * complete stores in every run. */
typedef int (*ActuatorWriteHook)(const char *relpath, const char *value, void *userdata);
void actuator_set_write_hook(Actuator *a, ActuatorWriteHook hook, void *userdata);
