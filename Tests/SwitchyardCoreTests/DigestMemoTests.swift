import Crypto
import Testing

@testable import SwitchyardCore

/// The digest-keyed memo behind the input guardrails' findings and the classifier's verdicts.
@Suite struct DigestMemoTests {
    @Test func keysSeparateTheirPartsAndTheText() {
        let text = Array("the same text".utf8)
        #expect(DigestMemo<Int>.key(["ab", "c"], text: text) != DigestMemo<Int>.key(["a", "bc"], text: text))
        #expect(DigestMemo<Int>.key(["0", "user"], text: text) != DigestMemo<Int>.key(["0", "tool"], text: text))
        #expect(DigestMemo<Int>.key(["0", "user"], text: text) == DigestMemo<Int>.key(["0", "user"], text: Array("the same text".utf8)))
        // A part with a zero byte (a role is client input) cannot pass for another split.
        #expect(DigestMemo<Int>.key(["0", "user\u{0}abc"], text: Array("def".utf8)) != DigestMemo<Int>.key(["0", "user"], text: Array("abc\u{0}def".utf8)))
        #expect(DigestMemo<Int>.key(["a"], text: []) != DigestMemo<Int>.key([], text: Array("a".utf8)))
    }

    /// A rail keeps its parts hashed per role and feeds each text's digest to a copy: the key
    /// is the one the parts and the digest give, for every role, the same hasher used again.
    @Test func aRailsKeptHasherGivesTheKeyOfItsPartsAndTheDigest() {
        let texts = ["the same text", "another text", ""].map { Array($0.utf8) }
        for (index, role) in [(0, "user"), (1, "system"), (2, "unusual-role")] {
            let rail = GuardrailEngine.Rail(GuardrailRule(name: "r", detector: .pii), index: index, memo: DigestMemo(capacity: 10))
            for text in texts {
                let digest = SHA256.hash(data: text)
                var hasher = rail.memoHashers[role] ?? DigestMemo<[Finding]>.hashing([String(index), role])
                let kept = DigestMemo<[Finding]>.key(hasher: &hasher, digest: digest)
                #expect(kept == DigestMemo<[Finding]>.key([String(index), role], digest: digest))
                #expect((rail.memoHashers[role] == nil) == (role == "unusual-role"))
            }
        }
    }

    @Test func holdsAtMostItsCapacityDroppingTheOldestFirst() {
        let memo = DigestMemo<Int>(capacity: 3)
        let keys = (0..<5).map { DigestMemo<Int>.key([], text: Array("text \($0)".utf8)) }
        for (index, key) in keys.enumerated() { memo.store(key, index) }
        #expect(memo.count == 3)
        #expect(memo.value(keys[0]) == nil && memo.value(keys[1]) == nil)
        #expect(memo.value(keys[2]) == 2 && memo.value(keys[4]) == 4)
        // Storing a known key again replaces its value without taking another place.
        memo.store(keys[3], 30)
        #expect(memo.count == 3 && memo.value(keys[3]) == 30 && memo.value(keys[2]) == 2)
        // Long runs keep the bound (the order list is compacted as it goes).
        for index in 0..<5_000 { memo.store(DigestMemo<Int>.key(["n"], text: Array(String(index).utf8)), index) }
        #expect(memo.count == 3)
        #expect(memo.value(DigestMemo<Int>.key(["n"], text: Array("4999".utf8))) == 4999)
    }

    @Test func keepsOnSecondSightOnlyWhenAsked() {
        let memo = DigestMemo<Int>(capacity: 10, keepsOnSecondSight: true)
        let once = DigestMemo<Int>.key([], text: Array("seen once".utf8))
        let twice = DigestMemo<Int>.key([], text: Array("seen twice".utf8))
        memo.store(once, 1)
        memo.store(twice, 2)
        #expect(memo.value(once) == nil && memo.value(twice) == nil && memo.count == 0)
        memo.store(twice, 2)
        #expect(memo.value(twice) == 2 && memo.value(once) == nil && memo.count == 1)
        // A known key is updated at once.
        memo.store(twice, 3)
        #expect(memo.value(twice) == 3)
        // Without the option (the classifier's verdicts: each miss is a model call) the first store keeps.
        let eager = DigestMemo<Int>(capacity: 10)
        eager.store(once, 1)
        #expect(eager.value(once) == 1)
    }
}
