import Foundation
import SwitchyardCore

/// How the dashboard writes numbers, money, durations and times (as strings, escaped like any
/// other when they go into a page).
enum Format {
    /// `12,345`.
    static func count(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { out += "," }
            out.append(digit)
        }
        return value < 0 ? "-" + out : out
    }

    /// A count that may be large, for axes and tooltips: `950`, `12.3k`, `4.5M`.
    static func compact(_ value: Double) -> String {
        let magnitude = abs(value)
        if magnitude >= 1e6 { return decimal(value / 1e6, places: 1) + "M" }
        if magnitude >= 1e4 { return decimal(value / 1e3, places: 1) + "k" }
        if magnitude == magnitude.rounded() { return count(Int(value)) }
        return decimal(value, places: magnitude < 10 ? 2 : 1)
    }

    /// US dollars with enough places to show small per-request costs: `$12.50`, `$0.0042`.
    static func usd(_ value: Double) -> String {
        guard value.isFinite else { return "–" }
        if value == 0 { return "$0" }
        if abs(value) >= 1 { return "$" + decimal(value, places: 2) }
        if abs(value) >= 0.01 { return "$" + decimal(value, places: 4) }
        return "$" + decimal(value, places: 6)
    }

    /// `850 ms`, `2.35 s`; a dash when unknown.
    static func milliseconds(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "–" }
        if value >= 1000 { return decimal(value / 1000, places: 2) + " s" }
        return decimal(value, places: value < 10 ? 1 : 0) + " ms"
    }

    /// `12.5%`.
    static func percent(_ ratio: Double) -> String {
        guard ratio.isFinite else { return "–" }
        return decimal(ratio * 100, places: ratio < 0.1 ? 2 : 1) + "%"
    }

    /// `2026-11-02 14:03:11 UTC`.
    static func time(_ unixTime: Double) -> String {
        CivilDate.iso8601(Int64(unixTime)).replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: "Z", with: " UTC")
    }

    /// `11-02 14:03:11` (UTC), for table cells.
    static func shortTime(_ unixTime: Double) -> String {
        let text = CivilDate.iso8601(Int64(unixTime))
        return text.count >= 19 ? String(text.dropFirst(5).prefix(14)).replacingOccurrences(of: "T", with: " ") : text
    }

    /// `14:03` (or `11-02` for day-sized buckets), for chart labels.
    static func bucketLabel(_ unixTime: Int64, bucketSeconds: Int) -> String {
        let text = CivilDate.iso8601(unixTime)  // 2026-11-02T14:03:11Z
        let characters = Array(text)
        guard characters.count >= 16 else { return text }
        if bucketSeconds >= 86_400 { return String(characters[5..<10]) }
        if bucketSeconds >= 6 * 3600 { return String(characters[5..<10]) + " " + String(characters[11..<13]) + "h" }
        return String(characters[11..<16])
    }

    static func decimal(_ value: Double, places: Int) -> String {
        guard value.isFinite, abs(value) < 1e15 else { return value.isFinite ? String(value) : "–" }
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        let whole = Int(scaled / scale)
        var fraction = String(Int(scaled - Double(whole) * scale))
        while fraction.count < places { fraction = "0" + fraction }
        return (value < 0 && scaled > 0 ? "-" : "") + count(whole) + (places > 0 ? "." + fraction : "")
    }
}
