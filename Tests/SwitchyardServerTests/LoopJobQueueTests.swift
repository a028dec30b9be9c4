import CSwitchyardConcurrencyHook
import Foundation
import Testing

/// The per-thread job queue behind the event loops' executor (`LoopJobs` in the executable):
/// the enqueue hook appends a job on a loop's thread, and the first job of a batch schedules the
/// one loop task that takes and runs the batch.
@Suite struct LoopJobQueueTests {
    static func job(_ value: Int) -> UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: value)! }

    static func take() -> [Int] {
        var jobs: UnsafeMutablePointer<UnsafeMutableRawPointer?>?
        let count = switchyard_jobs_take(&jobs)
        return (0..<count).map { Int(bitPattern: jobs![$0]) }
    }

    /// Runs `body` on a thread of its own (the queue is per thread: a test must not share the
    /// thread it runs on with another test's queue).
    static func onOwnThread(_ body: @escaping @Sendable () -> Void) {
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            body()
            done.signal()
        }
        thread.start()
        done.wait()
    }

    @Test func theFirstJobOfABatchAsksForADrainAndABatchComesOutInOrder() {
        Self.onOwnThread {
            #expect(Self.take().isEmpty)
            #expect(switchyard_jobs_push(Self.job(1)), "an empty queue: a drain must be scheduled")
            for value in 2...1000 {
                #expect(!switchyard_jobs_push(Self.job(value)), "a drain is already scheduled")
            }
            #expect(Self.take() == Array(1...1000), "in order, past the first buffer's growth")
            #expect(Self.take().isEmpty, "taken once")
            #expect(switchyard_jobs_push(Self.job(7)), "the next batch asks for its own drain")
            #expect(Self.take() == [7])
        }
    }

    @Test func jobsQueuedWhileABatchRunsWaitForTheNextBatchAndLeaveItIntact() {
        Self.onOwnThread {
            for value in 1...300 { _ = switchyard_jobs_push(Self.job(value)) }
            var jobs: UnsafeMutablePointer<UnsafeMutableRawPointer?>?
            let count = switchyard_jobs_take(&jobs)
            #expect(count == 300)
            // The batch's jobs run and queue more (a task's next hop): into the other buffer,
            // however many, without moving the batch being run.
            var seen: [Int] = []
            for index in 0..<count {
                seen.append(Int(bitPattern: jobs![index]))
                let queued = switchyard_jobs_push(Self.job(10_000 + index))
                #expect(queued == (index == 0), "the first job queued during the batch schedules the next")
            }
            #expect(seen == Array(1...300))
            #expect(Self.take() == Array(10_000..<10_300))
        }
    }

    @Test func eachThreadHasItsOwnQueueAndKind() {
        Self.onOwnThread {
            switchyard_set_thread_kind(1)
            _ = switchyard_jobs_push(Self.job(1))
            Self.onOwnThread {
                #expect(switchyard_thread_kind() == 0, "another thread is not known yet")
                #expect(Self.take().isEmpty, "and sees none of the first thread's jobs")
                #expect(switchyard_jobs_push(Self.job(2)))
                #expect(Self.take() == [2])
            }
            #expect(switchyard_thread_kind() == 1)
            #expect(Self.take() == [1])
        }
    }
}
