/// Harmful-content categories from weighted phrase lexicons (built in, extended or replaced
/// from the config); a category fires when the weights of its phrases in a text reach the
/// guardrail's threshold.
public struct ContentDetector: TextDetector {
    public static let categories = ["hate", "harassment", "violence", "self_harm", "sexual", "illegal"]
    let matcher: PhraseMatcher

    /// `categories`: the built-in categories to use; `extra`: more phrases per category.
    public init(categories: [String], extra: [String: [String]] = [:]) {
        var matcher = PhraseMatcher()
        for category in categories {
            for (phrase, weight) in Self.lexicon[category] ?? [] { matcher.add(phrase, label: "content." + category, weight: weight) }
        }
        for (category, phrases) in extra {
            for phrase in phrases { matcher.add(phrase, label: "content." + category, weight: 1) }
        }
        self.matcher = matcher
    }

    public func findings(in text: [UInt8], context: [UInt8]) -> [Finding] {
        matcher.matches(in: text)
    }

    /// Phrases and weights (1 = enough on its own at the default threshold).
    static let lexicon: [String: [(String, Double)]] = [
        "hate": [
            ("ethnic cleansing", 1), ("master race", 1), ("racial purity", 0.8), ("inferior race", 1), ("subhuman", 0.6), ("untermensch", 1),
            ("should be exterminated", 1), ("must be exterminated", 1), ("white power", 0.8), ("white supremacy", 0.6), ("gas the", 0.7),
            ("go back to your country", 0.7), ("are vermin", 0.8), ("are animals", 0.4), ("race war", 0.8), ("final solution", 0.5),
            ("heil hitler", 1), ("sieg heil", 1), ("14 words", 0.5), ("great replacement", 0.6),
        ],
        "harassment": [
            ("kill yourself", 1), ("kys", 0.8), ("you're worthless", 0.6), ("you are worthless", 0.6), ("nobody likes you", 0.5),
            ("i know where you live", 1), ("i will find you", 0.8), ("you deserve to die", 1), ("you should die", 1), ("piece of shit", 0.6),
            ("stupid idiot", 0.5), ("you're pathetic", 0.5), ("you are pathetic", 0.5), ("ugly bitch", 1), ("dumb bitch", 1), ("loser", 0.2),
            ("i'll make your life hell", 1), ("watch your back", 0.6), ("dox", 0.6), ("doxx*", 0.8),
        ],
        "violence": [
            ("how to make a bomb", 1), ("build a bomb", 1), ("make a bomb", 1), ("pipe bomb", 1), ("car bomb", 1), ("nail bomb", 1),
            ("kill them all", 0.8), ("mass shooting", 0.6), ("shoot up the", 0.8), ("i will kill", 1), ("i'm going to kill", 1),
            ("i am going to kill", 1),
            ("murder", 0.3), ("stab", 0.3), ("behead", 0.8), ("torture", 0.4), ("massacre", 0.5), ("slaughter", 0.4), ("assassinate", 0.6),
            ("blow up", 0.4), ("molotov", 0.7), ("school shooting", 0.8), ("how to kill", 0.8), ("poison someone", 1), ("untraceable poison", 1),
        ],
        "self_harm": [
            ("kill myself", 1), ("end my life", 1), ("take my own life", 1), ("want to die", 0.8), ("suicide", 0.5), ("suicidal", 0.7),
            ("cut myself", 1), ("cutting myself", 1), ("self-harm", 0.6), ("self harm", 0.6), ("overdose on", 0.7), ("how many pills", 0.7),
            ("hang myself", 1), ("slit my wrists", 1), ("no reason to live", 0.8), ("better off dead", 0.8), ("painless way to die", 1),
        ],
        "sexual": [
            ("sexually explicit", 0.8), ("explicit sex", 0.8), ("porn", 0.6), ("porno", 0.8), ("pornographic", 0.7), ("pornography", 0.6),
            ("nudes", 0.6), ("nude", 0.4), ("erotic", 0.5), ("sexual intercourse", 0.5), ("blowjob", 1), ("orgasm", 0.6), ("masturbat*", 0.7),
            ("child sexual", 1), ("sexual content involving minors", 1), ("underage sex", 1), ("hentai", 0.8), ("xxx", 0.5), ("onlyfans", 0.4),
        ],
        "illegal": [
            ("cook meth", 1), ("make meth", 1), ("synthesize methamphetamine", 1), ("synthesise methamphetamine", 1), ("buy drugs", 0.7),
            ("buy cocaine", 1), ("sell drugs", 0.7), ("launder money", 1), ("money laundering", 0.6), ("counterfeit money", 1), ("counterfeit", 0.4),
            ("credit card fraud", 0.8), ("stolen credit card", 1), ("carding", 0.5), ("hack into", 0.6), ("ransomware", 0.5), ("phishing kit", 1),
            ("evade taxes", 0.7), ("tax evasion", 0.5), ("fake passport", 1), ("fake id", 0.7), ("hire a hitman", 1), ("human trafficking", 0.6),
            ("dark web market", 0.7), ("without getting caught", 0.6), ("bypass the alarm", 0.7), ("pick a lock", 0.4), ("hotwire a car", 0.8),
            ("make a fake", 0.5), ("steal a car", 0.8), ("shoplift", 0.7),
        ],
    ]
}

/// Configured word lists (banned topics, competitor names): any listed word or phrase fires.
/// A trailing `*` matches any word that starts with it.
public struct WordListDetector: TextDetector {
    let matcher: PhraseMatcher

    public init(words: [String], label: String = "word") {
        var matcher = PhraseMatcher()
        for word in words where !word.isEmpty { matcher.add(word, label: label) }
        self.matcher = matcher
    }

    public func findings(in text: [UInt8], context: [UInt8]) -> [Finding] { matcher.matches(in: text) }
}

/// Configured regular expressions (Swift `Regex` syntax, compiled once per config load).
public struct RegexDetector: TextDetector, @unchecked Sendable {
    // `Regex<AnyRegexOutput>` is an immutable compiled program, safe to share; it is not
    // declared Sendable by the standard library.
    let patterns: [(name: String, regex: Regex<AnyRegexOutput>)]

    public init(patterns: [(name: String, regex: Regex<AnyRegexOutput>)]) {
        self.patterns = patterns
    }

    public func findings(in text: [UInt8], context: [UInt8]) -> [Finding] {
        let string = String(decoding: text, as: UTF8.self)
        var found: [Finding] = []
        for (name, regex) in patterns {
            for match in string.matches(of: regex) where !match.range.isEmpty {
                let start = string.utf8.distance(from: string.utf8.startIndex, to: match.range.lowerBound)
                let end = string.utf8.distance(from: string.utf8.startIndex, to: match.range.upperBound)
                found.append(Finding(entity: "regex." + name, range: start..<end))
            }
        }
        return found
    }
}
