#include "CSwitchyardConcurrencyHook.h"

#include <stdlib.h>

// Declared by the Swift runtime (swift_Concurrency) as a pointer to a function; only its
// pointer-sized storage is used here.
extern void *swift_task_enqueueGlobal_hook;

bool switchyard_install_enqueue_global_hook(void *hook) {
    void *expected = 0;
    return __atomic_compare_exchange_n(&swift_task_enqueueGlobal_hook, &expected, hook, false, __ATOMIC_SEQ_CST,
                                       __ATOMIC_SEQ_CST);
}

// The jobs the hook queued on this thread (an event loop's) since its last drain, in order, and
// the batch being drained. Only this thread touches them.
static __thread void **pending_jobs;
static __thread size_t pending_count;
static __thread size_t pending_capacity;
static __thread void **drained_jobs;
static __thread size_t drained_capacity;
static __thread int thread_kind;

int switchyard_thread_kind(void) { return thread_kind; }

void switchyard_set_thread_kind(int kind) { thread_kind = kind; }

bool switchyard_jobs_push(void *job) {
    if (pending_count == pending_capacity) {
        size_t capacity = pending_capacity ? pending_capacity * 2 : 256;
        void **grown = realloc(pending_jobs, capacity * sizeof(void *));
        if (!grown) abort();
        pending_jobs = grown;
        pending_capacity = capacity;
    }
    pending_jobs[pending_count] = job;
    pending_count += 1;
    return pending_count == 1;
}

size_t switchyard_jobs_take(void ***jobs) {
    void **taken = pending_jobs;
    size_t count = pending_count;
    size_t capacity = pending_capacity;
    pending_jobs = drained_jobs;
    pending_capacity = drained_capacity;
    pending_count = 0;
    drained_jobs = taken;
    drained_capacity = capacity;
    *jobs = taken;
    return count;
}
