import ArgumentParser
import CSwitchyardConcurrencyHook
import Dispatch
import Foundation
import NIOCore
import NIOPosix

/// Process entry point: sizes the event loops before anything uses them, then runs the
/// command line.
///
/// The loop count follows the CPUs this process may run on (CPU affinity as set by taskset or a
/// container's cpuset; NIO already honours cgroup quotas), or `SWITCHYARD_THREADS`: two loops
/// time-sharing one core cost a context switch per hand-off.
///
/// Swift Concurrency's global executor runs on the event loops (NIO's executor takeover): a
/// request then stays on the thread of the loop that reads and writes its sockets instead of
/// hopping to the cooperative pool and back at every await. With a fixed-response upstream it
/// cut the gateway's CPU per proxied request by about 18% (non-streaming) and 9% (streaming),
/// see benchmarks/RESULTS.md. `SWITCHYARD_EXECUTOR=dispatch` keeps the default pool (the
/// earlier measurement that preferred it was bound by its Python upstream).
@main
enum Entry {
    static func main() {
        let environment = ProcessInfo.processInfo.environment
        if let threads = environment["SWITCHYARD_THREADS"].flatMap(Int.init), threads > 0 {
            NIOSingletons.groupLoopCountSuggestion = threads
        } else if let allowed = allowedCPUCount(), allowed < System.coreCount {
            NIOSingletons.groupLoopCountSuggestion = allowed
        }
        if environment["SWITCHYARD_EXECUTOR"] != "dispatch" {
            runConcurrencyOnEventLoops()
        }
        Task {
            await Switchyard.main()
            exit(0)
        }
        dispatchMain()
    }

    /// The hook's type in the Swift runtime: called with each job and the runtime's own enqueue.
    typealias EnqueueGlobalHook = @convention(thin) (UnownedJob, @convention(thin) (UnownedJob) -> Void) -> Void

    /// Makes the event loops Swift Concurrency's global executor: the runtime's enqueue hook is
    /// set, through its symbol, to a function that runs each job on the current event loop when
    /// called from one, else on any loop of the group (what NIO's own installer does). NIO's
    /// installer finds the hook with dlsym, which fails in the release binary: the Swift runtime
    /// is linked in statically and nothing is exported (Package.swift), so every job went to the
    /// cooperative pool and back. One way for every build, so the tests run the shipped one.
    static func runConcurrencyOnEventLoops() {
        let hook: EnqueueGlobalHook = { job, _ in
            MultiThreadedEventLoopGroup.singleton.any().enqueue(ExecutorJob(job))
        }
        withUnsafeTemporaryAllocation(of: EnqueueGlobalHook.self, capacity: 1) { slot in
            slot.baseAddress!.initialize(to: hook)
            // A thin function value is its code address.
            slot.baseAddress!.withMemoryRebound(to: UnsafeMutableRawPointer.self, capacity: 1) { address in
                _ = switchyard_install_enqueue_global_hook(address.pointee)
            }
        }
    }

    /// The number of CPUs in this process's affinity mask (`Cpus_allowed_list` in
    /// /proc/self/status, e.g. "0-3,6"), when it can be read.
    static func allowedCPUCount() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") })
        else { return nil }
        var count = 0
        for range in line.dropFirst("Cpus_allowed_list:".count).split(separator: ",") {
            let bounds = range.split(separator: "-").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            if bounds.count == 1 { count += 1 } else if bounds.count == 2, bounds[1] >= bounds[0] { count += bounds[1] - bounds[0] + 1 }
        }
        return count > 0 ? count : nil
    }
}
