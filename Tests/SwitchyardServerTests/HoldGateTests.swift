import SwitchyardTesting
import Testing

/// The gate tests use to keep work in flight: what it lets through, when, and what it counts.
@Suite struct HoldGateTests {
    @Test func waitsParkUntilTheGateOpensAndLaterOnesPassAtOnce() async throws {
        let gate = HoldGate()
        async let first = gate.wait(limit: .seconds(60))
        async let second = gate.wait(limit: .seconds(60))
        #expect(await eventually { gate.waiting == 2 })
        #expect(gate.released == 0)
        gate.open()
        let opened = await [first, second]
        #expect(opened == [true, true], "both went on because the gate opened")
        #expect(gate.waiting == 0 && gate.released == 2)
        #expect(await gate.wait(limit: .seconds(60)))
        #expect(gate.released == 3)
    }

    @Test func aWaitEndsAtItsLimitWhenTheGateNeverOpens() async throws {
        let gate = HoldGate()
        let opened = await gate.wait(limit: .milliseconds(10))
        #expect(!opened, "the limit, not the gate, ended it")
        #expect(gate.waiting == 0 && gate.released == 1 && gate.cancelled == 0)
    }

    @Test func aCancelledWaitEndsAndCountsAsCancelled() async throws {
        let gate = HoldGate()
        let waiter = Task { await gate.wait(limit: .seconds(60)) }
        #expect(await eventually { gate.waiting == 1 })
        waiter.cancel()
        let opened = await waiter.value
        #expect(!opened)
        #expect(gate.waiting == 0 && gate.cancelled == 1 && gate.released == 0)
    }
}
