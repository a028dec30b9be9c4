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
            LoopJobs.schedule(ExecutorJob(job))
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

/// The jobs the enqueue hook receives on an event loop's thread, run by that loop in batches.
///
/// The loops run a job as their own serial executor (as NIO's executor takeover does), so
/// a task that calls a nonisolated async function of Hummingbird or NIO hops to the generic
/// executor and comes back through the hook: about 60 times per request. Each went through the
/// loop's locked task queue (NIO's `enqueue`). Here a hop on a loop's thread is appended to that
/// thread's own queue (no lock: only the thread touches it), and the first job of a batch queues
/// one task on the loop that runs the batch, in order, as NIO would have: on the loop's serial
/// executor, jobs queued meanwhile in the next batch, after what the loop had queued before them.
/// A job from any other thread goes to a loop's task queue as before.
enum LoopJobs {
    static func schedule(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        var kind = switchyard_thread_kind()
        if kind == 0 {
            // Once per thread: a loop of the group the gateway runs on (one that never shuts
            // down, so a queued batch always runs); any other thread takes the shared path.
            let current = MultiThreadedEventLoopGroup.currentEventLoop
            let ours = current.map { loop in MultiThreadedEventLoopGroup.singleton.makeIterator().contains { $0 === loop } } ?? false
            kind = ours ? 1 : 2
            switchyard_set_thread_kind(kind)
        }
        guard kind == 1 else {
            MultiThreadedEventLoopGroup.singleton.any().enqueue(ExecutorJob(job))
            return
        }
        if switchyard_jobs_push(unsafeBitCast(job, to: UnsafeMutableRawPointer.self)), let loop = MultiThreadedEventLoopGroup.currentEventLoop {
            // A function that captures nothing: queueing it allocates no closure context.
            loop.execute(drainCurrent)
        }
    }

    /// ``drain(_:)`` on the loop of the thread it runs on (the loop that queued it).
    @Sendable static func drainCurrent() {
        guard let loop = MultiThreadedEventLoopGroup.currentEventLoop else { return }
        drain(loop)
    }

    /// Runs the jobs queued on this thread so far.
    static func drain(_ loop: any EventLoop) {
        let executor = loop.executor.asUnownedSerialExecutor()
        var jobs: UnsafeMutablePointer<UnsafeMutableRawPointer?>?
        let count = switchyard_jobs_take(&jobs)
        guard let jobs else { return }
        for index in 0..<count {
            unsafeBitCast(jobs[index], to: UnownedJob.self).runSynchronously(on: executor)
        }
    }
}
