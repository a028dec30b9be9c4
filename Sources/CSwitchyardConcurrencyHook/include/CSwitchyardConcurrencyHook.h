#ifndef C_SWITCHYARD_CONCURRENCY_HOOK_H
#define C_SWITCHYARD_CONCURRENCY_HOOK_H

#include <stdbool.h>
#include <stddef.h>

/// Sets Swift Concurrency's global-enqueue hook (`swift_task_enqueueGlobal_hook`) to `hook` if no
/// hook is set yet; returns whether it was set. The hook is reached by its symbol at link time,
/// so this works in a static binary, where the runtime's symbols are not exported and cannot be
/// found with dlsym.
bool switchyard_install_enqueue_global_hook(void *hook);

/// What the calling thread is to the hook: 0 not known yet, 1 an event loop's, 2 another.
int switchyard_thread_kind(void);
void switchyard_set_thread_kind(int kind);

/// Appends `job` to the calling thread's queue of jobs; true when it was empty (a drain must be
/// scheduled).
bool switchyard_jobs_push(void *job);

/// Takes the calling thread's queued jobs, in order: `*jobs` points at them until the thread's
/// next take (the queue starts again empty, in the other of two buffers).
size_t switchyard_jobs_take(void ***jobs);

#endif
