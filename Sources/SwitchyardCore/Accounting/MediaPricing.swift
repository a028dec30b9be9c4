/// What a media request used, beside tokens: images made, seconds of audio sent, characters
/// spoken. Priced by ``ModelPrice/perImage``, ``ModelPrice/perSecond`` and
/// ``ModelPrice/perCharacter``, on top of any token usage the provider reports.
public struct MediaUsage: Sendable, Equatable {
    /// Images in the answer.
    public var images = 0
    /// The requested `size` (`1024x1024`) and `quality` (`hd`, `high`), as sent.
    public var size: String?
    public var quality: String?
    /// Seconds of audio in the upload: the provider's `duration` (or `usage.seconds`), else the
    /// WAV header's.
    public var seconds: Double?
    /// Where `seconds` came from: `provider` or `wav_header`.
    public var secondsSource: String?
    /// Characters of text to speak (speech).
    public var characters: Int?

    public init(images: Int = 0, size: String? = nil, quality: String? = nil, seconds: Double? = nil, characters: Int? = nil) {
        self.images = images
        self.size = size
        self.quality = quality
        self.seconds = seconds
        self.characters = characters
    }
}

extension MediaUsage {
    /// What a request will use as far as its body says (images asked for, characters to
    /// speak; an upload's seconds are unknown until it went through): what budgets reserve.
    public init(expectedBy request: OpenAIRequest) {
        self.init()
        switch request.endpoint {
        case .imageGenerations, .imageEdits:
            images = min(max(1, request.scan.value("n")?.intValue ?? 1), 10)
            size = request.scan.string("size")
            quality = request.scan.string("quality")
        case .audioSpeech:
            characters = request.scan.string("input")?.unicodeScalars.count ?? 0
        default:
            break
        }
    }
}

extension ModelPrice {
    /// The price of one image of `size` and `quality`: the most specific of `size/quality`,
    /// `size`, `quality` and `*`.
    public func imagePrice(size: String?, quality: String?) -> Double? {
        guard let perImage else { return nil }
        let size = size?.lowercased()
        let quality = quality?.lowercased()
        if let size, let quality, let price = perImage["\(size)/\(quality)"] { return price }
        if let size, let price = perImage[size] { return price }
        if let quality, let price = perImage[quality] { return price }
        return perImage["*"]
    }

    /// The cost in USD of `media` at this price's media rates; nil when none applies.
    public func cost(of media: MediaUsage) -> Double? {
        var total: Double?
        if media.images > 0, let each = imagePrice(size: media.size, quality: media.quality) {
            total = (total ?? 0) + Double(media.images) * each
        }
        if let seconds = media.seconds, let perSecond {
            total = (total ?? 0) + seconds * perSecond
        }
        if let characters = media.characters, let perCharacter {
            total = (total ?? 0) + Double(characters) * perCharacter
        }
        return total
    }

    /// Whether any media rate is set.
    public var hasMediaRates: Bool { perImage != nil || perSecond != nil || perCharacter != nil }
}
