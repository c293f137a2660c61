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

/* Test seam: called before every write (before the file is even opened) with the path relative to the sysfs root and
 * the bytes about to be written. Returning a negative errno makes the write fail with it, without touching the file. */
typedef int (*ActuatorWriteHook)(const char *relpath, const char *value, void *userdata);
void actuator_set_write_hook(Actuator *a, ActuatorWriteHook hook, void *userdata);
