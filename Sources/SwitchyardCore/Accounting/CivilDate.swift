/// Proleptic Gregorian calendar arithmetic in UTC, without Foundation: days since the Unix
/// epoch to year/month/day and back (Howard Hinnant's algorithms).
public struct CivilDate: Sendable, Equatable {
    public var year: Int64
    public var month: Int64
    public var day: Int64

    public init(year: Int64, month: Int64, day: Int64) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// The date `days` days after 1970-01-01.
    public init(daysSinceEpoch days: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        day = dayOfYear - (153 * mp + 2) / 5 + 1
        month = mp < 10 ? mp + 3 : mp - 9
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    }

    /// Days from 1970-01-01 to this date.
    public var daysSinceEpoch: Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// Whole days since the epoch of a Unix time (rounding towards the past).
    public static func days(_ unixTime: Int64) -> Int64 {
        unixTime >= 0 ? unixTime / 86_400 : (unixTime - 86_399) / 86_400
    }

    /// `2026-11-27`.
    public var iso: String {
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(year)-\(two(month))-\(two(day))"
    }

    /// `2026-11-27T08:49:37Z`.
    public static func iso8601(_ unixTime: Int64) -> String {
        let days = Self.days(unixTime)
        let seconds = unixTime - days * 86_400
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return CivilDate(daysSinceEpoch: days).iso + "T\(two(seconds / 3600)):\(two(seconds % 3600 / 60)):\(two(seconds % 60))Z"
    }

    /// `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM[:SS]Z` as Unix seconds (UTC).
    public static func parseUnixTime(_ text: String) -> Int64? {
        let parts = text.split(separator: "T", maxSplits: 1)
        guard let first = parts.first else { return nil }
        let date = first.split(separator: "-")
        guard date.count == 3, let year = Int64(date[0]), let month = Int64(date[1]), let day = Int64(date[2]),
            (1...12).contains(month), (1...31).contains(day), date[0].count == 4
        else { return nil }
        var seconds: Int64 = 0
        if parts.count == 2 {
            var time = parts[1]
            guard time.hasSuffix("Z") else { return nil }
            time = time.dropLast()
            let fields = time.split(separator: ":").map { Int64($0) }
            guard (2...3).contains(fields.count), !fields.contains(nil) else { return nil }
            let values = fields.map { $0! }
            guard (0..<24).contains(values[0]), (0..<60).contains(values[1]), values.count < 3 || (0..<61).contains(values[2]) else { return nil }
            seconds = values[0] * 3600 + values[1] * 60 + (values.count == 3 ? values[2] : 0)
        }
        return CivilDate(year: year, month: month, day: day).daysSinceEpoch * 86_400 + seconds
    }
}
