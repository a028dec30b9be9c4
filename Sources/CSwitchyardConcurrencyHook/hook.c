#include "CSwitchyardConcurrencyHook.h"

// Declared by the Swift runtime (swift_Concurrency) as a pointer to a function; only its
// pointer-sized storage is used here.
extern void *swift_task_enqueueGlobal_hook;

bool switchyard_install_enqueue_global_hook(void *hook) {
    void *expected = 0;
    return __atomic_compare_exchange_n(&swift_task_enqueueGlobal_hook, &expected, hook, false, __ATOMIC_SEQ_CST,
                                       __ATOMIC_SEQ_CST);
}
