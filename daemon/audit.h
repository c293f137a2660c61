/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The audit trail: one structured record per decision and per action, each kind with its own MESSAGE_ID (explained
 * by units/dma-ownerd.catalog). To the journal when one is reachable; otherwise to stderr, one record per line:
 *
 *   dma-ownerd[PID]: MESSAGE_ID=… PRIORITY=4 KIND=violation DEVICE=0000:01:00.0 … MESSAGE="…"
 *
 * key=value pairs separated by one space; a value is wrapped in double quotes, with \" \\ \n \t and \xHH escapes
 * (control characters and bytes >= 0x7f), when it holds anything but [A-Za-z0-9_.:/+-] or is empty. MESSAGE_ID,
 * PRIORITY and KIND come first, MESSAGE last; fields without a value are left out. Fields: DEVICE, DRIVER,
 * TARGET_DRIVER, GROUP, RULE (file:line), RULE_NAME, MODE, DECISION, ACTION, RESULT (ok or the errno name), ERRNO,
 * BLOCKER, BLOCKER_DRIVER, INTERFACE, POLICY_FILES, DRY_RUN (0/1); policy-loaded adds ON_VIOLATION,
 * NETWORK_PROTECTION, RESERVATIONS; policy-rejected ERRORS, KEPT_PREVIOUS; started SYSFS_ROOT, DEVICES, GROUPS,
 * KERNEL_DMA_OWNERSHIP. In the journal the same fields are sent as journal fields (control characters escaped).
 *
 * KIND: the decision kind (reserve, violation, pin, unpin, not-viable, net-protected) for decision records, "action"
 * for step records, policy-loaded, policy-error (one per error), policy-rejected (the summary), started.
 *
 * Dry runs: a decision record always carries DRY_RUN and, in ACTION, the steps it plans joined by '+'
 * ("set-override+unbind+probe"). A dry-run decision (audit mode, on-violation log) is logged only as that decision
 * record with DRY_RUN=1: nothing is written, so audit_step() is not called for it and there are no step records. */

#include <stdbool.h>

#include "engine.h"
#include "policy.h"

#define AUDIT_MID_POLICY_LOADED   "6f3c0d1a2b8e4c5d9a7f1e2d3c4b5a60"
#define AUDIT_MID_POLICY_REJECTED "6f3c0d1a2b8e4c5d9a7f1e2d3c4b5a61"
#define AUDIT_MID_VIOLATION       "6f3c0d1a2b8e4c5d9a7f1e2d3c4b5a62"
#define AUDIT_MID_ACTION_DONE     "6f3c0d1a2b8e4c5d9a7f1e2d3c4b5a63"
#define AUDIT_MID_ACTION_FAILED   "6f3c0d1a2b8e4c5d9a7f1e2d3c4b5a64"
#define AUDIT_MID_NOT_VIABLE      "6f3c0d1a2b8e4c5d9a7f1e2d3c4b5a65"
#define AUDIT_MID_DECISION        "6f3c0d1a2b8e4c5d9a7f1e2d3c4b5a66" /* reserve, pin, unpin */
#define AUDIT_MID_NET_PROTECTED   "6f3c0d1a2b8e4c5d9a7f1e2d3c4b5a67"
#define AUDIT_MID_STARTED         "6f3c0d1a2b8e4c5d9a7f1e2d3c4b5a68"

typedef enum AuditTarget {
        AUDIT_TARGET_AUTO,    /* journal when stderr is the journal's stream ($JOURNAL_STREAM), else stderr */
        AUDIT_TARGET_JOURNAL,
        AUDIT_TARGET_STDERR,
} AuditTarget;

void audit_init(AuditTarget target);
bool audit_to_journal(void);

void audit_policy_loaded(const Policy *p);
/* One record per error, then a summary saying whether the previous policy was kept. */
void audit_policy_rejected(const PolicyErrors *errors, bool kept_previous);
void audit_decision(const Decision *d, PolicyMode mode);
/* `result` is 0 or a negative errno. */
void audit_step(const Decision *d, const Step *s, PolicyMode mode, int result);
void audit_started(const char *sysfs_root, size_t n_devices, size_t n_groups, bool kernel_dma_ownership);

/* Plain log lines (not audit records), same destination. `priority` is a syslog level. */
void log_msg(int priority, const char *format, ...) __attribute__((format(printf, 2, 3)));

const char *audit_target_to_string(AuditTarget t);
int audit_target_from_string(const char *s, AuditTarget *ret);
