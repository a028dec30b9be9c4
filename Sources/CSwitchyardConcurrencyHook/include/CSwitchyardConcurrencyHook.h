#ifndef C_SWITCHYARD_CONCURRENCY_HOOK_H
#define C_SWITCHYARD_CONCURRENCY_HOOK_H

#include <stdbool.h>

/// Sets Swift Concurrency's global-enqueue hook (`swift_task_enqueueGlobal_hook`) to `hook` if no
/// hook is set yet; returns whether it was set. The hook is reached by its symbol at link time,
/// so this works in a static binary, where the runtime's symbols are not exported and cannot be
/// found with dlsym.
bool switchyard_install_enqueue_global_hook(void *hook);

#endif
