import Crypto
import Foundation
import NIOCore

/// The answer side of a request's guardrails: the output rails in scope and the placeholders
/// to put back. Carried from the input stage to the non-streaming answer or the stream relay.
public struct GuardrailOutput: Sendable {
    let rails: [GuardrailEngine.Rail]
    public internal(set) var pseudonyms: Pseudonyms
    let webhook: (any WebhookClient)?
    let requestID: String
    let model: String

    /// Whether answers need to be looked at (output rails or placeholders to restore).
    var isNeeded: Bool { !rails.isEmpty || !pseudonyms.isEmpty }

    /// Bytes a stream holds back: the widest window of its rails (placeholders fit in it).
    var streamWindow: Int { max(rails.map(\.rule.streamWindow).max() ?? 0, pseudonyms.longest) }
}

/// The texts a guardrail looks at in an OpenAI-form body, with the role of their message.
enum GuardrailTexts {
    /// Calls `visit(role, text)` for every text of a request; a non-nil result replaces it.
    /// Returns whether anything was replaced.
    static func rewriteRequest(_ body: inout JSONValue, endpoint: Endpoint, _ visit: (String, String) -> String?) -> Bool {
        guard case .object(var object) = body else { return false }
        var changed = false
        func strings(_ value: JSONValue, role: String) -> JSONValue? {
            switch value {
            case .string(let text):
                return visit(role, text).map(JSONValue.string)
            case .array(var items):
                var any = false
                for index in items.indices {
                    if case .string(let text) = items[index], let replaced = visit(role, text) {
                        items[index] = .string(replaced)
                        any = true
                    } else if case .object(var item) = items[index], let text = item["text"]?.stringValue, let replaced = visit(role, text) {
                        // A `{"text": ...}` rerank document or moderation content part.
                        item["text"] = .string(replaced)
                        items[index] = .object(item)
                        any = true
                    }
                }
                return any ? .array(items) : nil
            default:
                return nil
            }
        }
        switch endpoint {
        case .chatCompletions:
            guard case .array(var messages) = object["messages"] ?? .null else { return false }
            for index in messages.indices {
                guard case .object(var message) = messages[index] else { continue }
                let role = message["role"]?.stringValue ?? "user"
                switch message["content"] ?? .null {
                case .string(let text):
                    if let replaced = visit(role, text) {
                        message["content"] = .string(replaced)
                        changed = true
                    }
                case .array(var parts):
                    var any = false
                    for partIndex in parts.indices {
                        // Text parts, and an assistant's refusal parts (text under `refusal`).
                        guard case .object(var part) = parts[partIndex] else { continue }
                        let field = part["type"]?.stringValue ?? "text"
                        guard field == "text" || field == "refusal", let text = part[field]?.stringValue else { continue }
                        if let replaced = visit(role, text) {
                            part[field] = .string(replaced)
                            parts[partIndex] = .object(part)
                            any = true
                        }
                    }
                    if any {
                        message["content"] = .array(parts)
                        changed = true
                    }
                default:
                    break
                }
                // The arguments of the tool calls an assistant made are forwarded too (they can
                // carry what the user typed, or what an attacker planted in a tool's output).
                if case .array(var calls) = message["tool_calls"] ?? .null {
                    var any = false
                    for callIndex in calls.indices {
                        guard case .object(var call) = calls[callIndex], case .object(var function) = call["function"] ?? .null,
                            let arguments = function["arguments"]?.stringValue, let replaced = visit(role, arguments)
                        else { continue }
                        function["arguments"] = .string(replaced)
                        call["function"] = .object(function)
                        calls[callIndex] = .object(call)
                        any = true
                    }
                    if any {
                        message["tool_calls"] = .array(calls)
                        changed = true
                    }
                }
                if case .object(var function) = message["function_call"] ?? .null, let arguments = function["arguments"]?.stringValue,
                    let replaced = visit(role, arguments)
                {
                    function["arguments"] = .string(replaced)
                    message["function_call"] = .object(function)
                    changed = true
                }
                messages[index] = .object(message)
            }
            if changed { object["messages"] = .array(messages) }
        case .completions:
            if let value = object["prompt"], let replaced = strings(value, role: "user") {
                object["prompt"] = replaced
                changed = true
            }
        case .imageGenerations, .imageEdits, .audioTranscriptions, .audioTranslations:
            if let value = object["prompt"], let replaced = strings(value, role: "user") {
                object["prompt"] = replaced
                changed = true
            }
        case .passthrough:
            break
        case .embeddings, .moderations, .audioSpeech:
            if let value = object["input"], let replaced = strings(value, role: "user") {
                object["input"] = replaced
                changed = true
            }
        case .rerank:
            for field in ["query", "documents"] {
                if let value = object[field], let replaced = strings(value, role: "user") {
                    object[field] = replaced
                    changed = true
                }
            }
        }
        if changed { body = .object(object) }
        return changed
    }

    /// Content of a request that no text detector can read: the non-text parts of its messages
    /// (images, audio, files), and what the client's dialect carried that the canonical form
    /// does not (`untranslated`: an Anthropic tool result's images and documents, which reach
    /// an Anthropic provider through the pass-through).
    static func unscannable(_ body: JSONValue, endpoint: Endpoint, untranslated: [UntranslatedContent]) -> [UntranslatedContent] {
        var found: [UntranslatedContent] = []
        if endpoint == .chatCompletions, let messages = body["messages"]?.arrayValue {
            for (index, message) in messages.enumerated() {
                guard let parts = message["content"]?.arrayValue else { continue }
                let role = message["role"]?.stringValue ?? "user"
                for (partIndex, part) in parts.enumerated() {
                    let type = part["type"]?.stringValue ?? "text"
                    if type != "text" && type != "refusal" {
                        found.append(UntranslatedContent(role: role, param: "messages[\(index)].content[\(partIndex)]", kind: type))
                    }
                }
            }
        }
        return found + untranslated
    }
}

/// The texts of a request that input guardrails read (``GuardrailTexts/rewriteRequest(_:endpoint:_:)``'s
/// visits, in its order), as bytes, with what the guardrails replaced.
struct RequestTexts {
    struct Item {
        let role: String
        var text: [UInt8]
        /// The text's SHA-256 once a guardrail's memo needed it; nil after a change.
        var digest: SHA256Digest?
        var replaced = false
        /// Where the text's JSON string lies in ``RequestTexts/source`` (texts read without a tree).
        var span: Range<Int>? = nil
    }
    var items: [Item] = []
    /// The body the texts were read from by ``init(chat:)``, which ``splicedBody()`` rewrites;
    /// nil for texts read from a JSON tree.
    private(set) var source: [UInt8]?

    init() {}

    /// The texts of a chat request whose messages hold only string contents (no content parts,
    /// tool calls or function call, which the tree's walk reads), straight from its scan: the
    /// same texts, roles and order as ``GuardrailTexts/rewriteRequest(_:endpoint:_:)`` visits,
    /// each with where it lies in the body. Nil for any other shape.
    ///
    /// A key given twice (`messages`, or any member of a message) also leaves it to the tree,
    /// which writes one of each: in place, the bytes would still carry the duplicate this did
    /// not read, for an upstream parser that takes the first.
    init?(chat scan: JSONObjectScan) {
        guard let messages = scan.member("messages"), messages.kind == .array,
            scan.members.lazy.filter({ $0.key == "messages" }).count == 1
        else { return nil }
        var items: [Item] = []
        let bytes = scan.bytes
        for message in JSONWalk.elements(bytes, messages.valueRange) where message.kind == .object {
            let members = JSONWalk.members(bytes, message.range)
            for index in members.indices.dropFirst() where members[..<index].contains(where: { $0.key == members[index].key }) { return nil }
            func member(_ key: String) -> JSONWalk.Item? { members.last { $0.key == key } }
            if let calls = member("tool_calls"), calls.kind != .null { return nil }
            if let call = member("function_call"), call.kind != .null { return nil }
            guard let content = member("content"), content.kind != .null else { continue }
            guard content.kind == .string, let text = JSONWalk.string(bytes, content.range) else { return nil }
            let role = member("role").flatMap { $0.kind == .string ? JSONWalk.string(bytes, $0.range) : nil } ?? "user"
            items.append(Item(role: role, text: Array(text.utf8), span: content.range))
        }
        self.items = items
        source = bytes
    }

    /// The body with the replaced texts written in place of the strings they were read from
    /// (every other byte as the client sent it); nil when nothing was replaced or the texts
    /// came from a tree (``apply(to:endpoint:)``).
    func splicedBody() -> [UInt8]? {
        guard let source, items.contains(where: \.replaced) else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(source.count + 64)
        var cursor = 0
        for item in items where item.replaced {
            guard let span = item.span else { continue }
            output.append(contentsOf: source[cursor..<span.lowerBound])
            output.append(contentsOf: JSONWriter.quoted(String(decoding: item.text, as: UTF8.self)))
            cursor = span.upperBound
        }
        output.append(contentsOf: source[cursor...])
        return output
    }

    init(_ body: JSONValue, endpoint: Endpoint) {
        var body = body
        var items: [Item] = []
        _ = GuardrailTexts.rewriteRequest(&body, endpoint: endpoint) { role, text in
            items.append(Item(role: role, text: Array(text.utf8)))
            return nil
        }
        self.items = items
    }

    func string(_ index: Int) -> String { String(decoding: items[index].text, as: UTF8.self) }

    mutating func replace(_ index: Int, with text: [UInt8]) {
        items[index].text = text
        items[index].digest = nil
        items[index].replaced = true
    }

    /// Writes the replaced texts into `body` (the body they were read from); whether any was.
    func apply(to body: inout JSONValue, endpoint: Endpoint) -> Bool {
        guard items.contains(where: \.replaced) else { return false }
        var index = 0
        return GuardrailTexts.rewriteRequest(&body, endpoint: endpoint) { _, _ in
            defer { index += 1 }
            guard index < items.count, items[index].replaced else { return nil }
            return String(decoding: items[index].text, as: UTF8.self)
        }
    }
}

extension Gateway {
    /// Input guardrails: checks the prompt's texts with every rail in scope, in order. Blocks
    /// (400 in the client's dialect), rewrites the body (mask, pseudonymize), reroutes, or
    /// records a flag. Returns the request to go on with, or the error that refuses it.
    func applyInputGuardrails(_ prepared: inout Prepared, headers: inout [HeaderField]) async -> GatewayError? {
        let snapshot = prepared.snapshot
        let inbound = prepared.inbound
        let endpoint = inbound.dialect.routeLabel(inbound.endpoint)
        let rails = snapshot.guardrails.applicable(
            endpoint: endpoint, request: prepared.request, identity: prepared.record.identity, group: prepared.plan.group,
            headers: inbound.headers, unixTime: router.clock.unixTime)
        guard !rails.isEmpty else { return nil }
        let inputRails = rails.filter { $0.rule.direction.checksInput && $0.rule.detector != .jsonSchema }
        var body: JSONValue = .null
        // The texts the guardrails read, read from the body once; rails mask them in turn (each
        // reads what the ones before it left) and the body is rewritten once, at the end.
        var texts = RequestTexts()
        if !inputRails.isEmpty {
            // A chat of plain string messages (what nearly every chat sends) is read and
            // rewritten in its bytes; anything else through a JSON tree. The request's scan is
            // of the body as it stands (every stage that rewrites one rewrites both).
            if inbound.endpoint == .chatCompletions, Self.same(prepared.request.scan.bytes, inbound.body),
                let chat = RequestTexts(chat: prepared.request.scan)
            {
                texts = chat
            } else {
                guard let parsed = try? JSONValue.parse(Array(buffer: inbound.body)) else { return nil }
                body = parsed
                texts = RequestTexts(parsed, endpoint: inbound.endpoint)
            }
        }
        var pseudonyms = Pseudonyms()
        var decisions: [GuardrailDecision] = []
        var refusal: GatewayError?
        // Texts a detector read, and texts whose findings the memo had (metrics).
        var scans = 0
        var scansReused = 0
        defer {
            prepared.record.guardrailScans.scanned += scans
            prepared.record.guardrailScans.reused += scansReused
            prepared.record.guardrails.append(contentsOf: decisions)
            if !decisions.isEmpty {
                headers.append(HeaderField("x-switchyard-guardrails", decisions.map(\.summary).joined(separator: ", ")))
            }
        }
        var unscannable: [UntranslatedContent]?
        for rail in inputRails {
            if rail.rule.action != .flag && !rail.rule.allowsNonText {
                // What this guardrail would have to judge but cannot read is not forwarded.
                if unscannable == nil {
                    // Texts read from the bytes are all strings: only what the dialect left untranslated.
                    unscannable =
                        texts.source != nil
                        ? inbound.untranslatedContent
                        : GuardrailTexts.unscannable(body, endpoint: inbound.endpoint, untranslated: inbound.untranslatedContent)
                }
                if let item = unscannable!.first(where: { rail.checks(role: $0.role) }) {
                    var decision = GuardrailDecision(
                        name: rail.rule.name, direction: "input", action: "block", entities: ["unscannable." + item.kind: 1])
                    decision.audited = rail.rule.audits("block")
                    decisions.append(decision)
                    return .invalidRequest(
                        "\(item.param) is \(item.kind) content, which guardrail '\(rail.rule.name)' cannot check; "
                            + "send it as text, or ask the operator to allow non-text content for this guardrail.",
                        param: item.param, code: .unscannableContent)
                }
            }
            if rail.detector == nil {
                // Webhook: the service sees the texts this rail covers and decides.
                let covered = texts.items.indices.filter { rail.checks(role: texts.items[$0].role) }
                guard !covered.isEmpty else { continue }
                let verdict = await callWebhook(
                    rail, texts: covered.map { texts.string($0) }, direction: "input", requestID: inbound.requestID, model: prepared.request.model)
                switch verdict {
                case .allow:
                    continue
                case .failedOpen(let reason):
                    decisions.append(GuardrailDecision(name: rail.rule.name, direction: "input", action: "error", entities: ["webhook." + reason: 1]))
                case .block(let reason), .failedClosed(let reason):
                    let decision = GuardrailDecision(name: rail.rule.name, direction: "input", action: "block", entities: ["webhook": 1])
                    decisions.append(decision)
                    return Self.blocked(rail.rule.name, reason: reason)
                case .replace(let replacements):
                    for (index, replacement) in zip(covered, replacements) where replacement != texts.string(index) {
                        texts.replace(index, with: Array(replacement.utf8))
                    }
                    var decision = GuardrailDecision(name: rail.rule.name, direction: "input", action: "mask", entities: ["webhook": 1])
                    decision.audited = rail.rule.audits("mask")
                    decisions.append(decision)
                }
                continue
            }
            var hits: [Finding] = []
            let action = rail.rule.action
            // Texts the heuristics let pass, for the classifier (if configured).
            var unflagged: [Int] = []
            let classifier = rail.rule.classifier
            for index in texts.items.indices where rail.checks(role: texts.items[index].role) {
                let role = texts.items[index].role
                let (findings, reused) = rail.inputFindings(in: texts.items[index].text, role: role, digest: &texts.items[index].digest)
                if reused { scansReused += 1 } else { scans += 1 }
                let found = rail.triggered(findings)
                if found.isEmpty, let classifier, texts.string(index).count >= classifier.minLength { unflagged.append(index) }
                guard !found.isEmpty else { continue }
                hits.append(contentsOf: found)
                switch action {
                case .mask:
                    texts.replace(index, with: GuardrailEngine.mask(texts.items[index].text, found))
                case .pseudonymize:
                    texts.replace(
                        index,
                        with: GuardrailEngine.rewrite(texts.items[index].text, found) { finding, original in
                            pseudonyms.placeholder(for: original, label: GuardrailEngine.label(for: finding.entity))
                        })
                default:
                    break
                }
            }
            if let classifier, !unflagged.isEmpty {
                for index in unflagged {
                    let role = texts.items[index].role
                    let verdict = await classify(
                        texts.string(index), role: role, settings: classifier, inbound: inbound, identity: prepared.record.identity)
                    if verdict == true || (verdict == nil && !classifier.failOpen) {
                        hits.append(
                            Finding(
                                entity: verdict == nil ? "injection.classifier_unavailable" : "injection.classifier", range: 0..<0,
                                score: rail.threshold))
                        if action == .mask { texts.replace(index, with: Array("[\(GuardrailEngine.label(for: "injection"))]".utf8)) }
                    }
                }
            }
            guard !hits.isEmpty else { continue }
            let decision = GuardrailDecision(rail: rail, direction: "input", findings: hits)
            decisions.append(decision)
            switch action {
            case .block:
                refusal = Self.blocked(rail.rule.name, reason: decision.reason)
            case .route:
                if let target = rail.rule.routeTo, let group = snapshot.catalog.group(for: target), prepared.record.guardrailRoute == nil {
                    prepared.plan.group = group
                    prepared.record.guardrailRoute = group.qualifiedName
                    prepared.record.modelGroup = group.qualifiedName
                    headers.append(HeaderField("x-switchyard-guardrail-route", group.qualifiedName))
                }
            case .mask, .pseudonymize, .flag, .retry:
                break
            }
            if let refusal { return refusal }
        }
        let rewritten: [UInt8]? = texts.source != nil ? texts.splicedBody() : texts.apply(to: &body, endpoint: inbound.endpoint) ? body.serializedBytes() : nil
        if let bytes = rewritten {
            prepared.inbound.body = ByteBuffer(bytes: bytes)
            prepared.inbound.nativeBody = nil
            do {
                // Rewritten in place, only texts changed: the request's validation carries over.
                prepared.request =
                    texts.source != nil
                    ? try OpenAIRequest(rewrittenTextsOf: prepared.request, body: bytes)
                    : try OpenAIRequest(endpoint: inbound.endpoint, body: bytes)
                prepared.accessFeatures = nil
            } catch {
                return error
            }
        }
        let output = GuardrailOutput(
            rails: rails.filter { $0.rule.direction.checksOutput && $0.rule.detector != .jsonSchema }, pseudonyms: pseudonyms,
            webhook: guardrailWebhook,
            requestID: inbound.requestID, model: prepared.request.model)
        if output.isNeeded {
            prepared.guardOutput = output
            // Answers are rewritten in canonical form, so the native pass-through is off.
            prepared.inbound.nativeBody = nil
        }
        if !pseudonyms.isEmpty {
            // An answer that holds someone's restored data is never shared through the cache.
            prepared.inbound.cacheNoStore = true
        }
        return nil
    }

    /// Whether `bytes` are the bytes of `buffer` (one `memcmp`).
    static func same(_ bytes: [UInt8], _ buffer: ByteBuffer) -> Bool {
        guard bytes.count == buffer.readableBytes else { return false }
        return bytes.withUnsafeBytes { left in
            buffer.withUnsafeReadableBytes { right in left.count == 0 || memcmp(left.baseAddress!, right.baseAddress!, left.count) == 0 }
        }
    }

    static func blocked(_ name: String, reason: String) -> GatewayError {
        .guardrailBlocked(name, reason: reason)
    }

    enum WebhookVerdict {
        case allow
        case block(String)
        case replace([String])
        case failedOpen(String)
        case failedClosed(String)
    }

    /// Asks a webhook guardrail. Body: `{"guardrail", "direction", "texts", "model", "request_id"}`;
    /// answer: `{"action": "allow" | "block" | "mask", "reason"?, "texts"?}`.
    func callWebhook(_ rail: GuardrailEngine.Rail, texts: [String], direction: String, requestID: String, model: String) async -> WebhookVerdict {
        await Self.callWebhook(rail, client: guardrailWebhook, texts: texts, direction: direction, requestID: requestID, model: model)
    }

    static func callWebhook(
        _ rail: GuardrailEngine.Rail, client: (any WebhookClient)?, texts: [String], direction: String, requestID: String, model: String
    ) async -> WebhookVerdict {
        guard let settings = rail.rule.webhook else { return .allow }
        func failure(_ reason: String) -> WebhookVerdict {
            settings.failOpen ? .failedOpen(reason) : .failedClosed("the guardrail service is unavailable (\(reason))")
        }
        guard let client else { return failure("no_client") }
        let body: JSONValue = [
            "guardrail": .string(rail.rule.name), "direction": .string(direction), "texts": .array(texts.map(JSONValue.string)),
            "model": .string(model), "request_id": .string(requestID),
        ]
        var headers = settings.headers
        headers.append(HeaderField("content-type", "application/json"))
        let requestHeaders = headers
        let payload = body.serializedBytes()
        let url = settings.url
        let timeout = settings.timeout
        let response: (status: Int, body: [UInt8])
        let started = ContinuousClock.now
        do {
            response = try await withThrowingTaskGroup(of: (status: Int, body: [UInt8])?.self) { group in
                group.addTask { try await client.post(url: url, headers: requestHeaders, body: payload, timeout: timeout) }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let result = first else { throw CancellationError() }
                return result
            }
        } catch {
            // The client's own deadline and ours are the same: either is a timeout.
            return failure(error is CancellationError || ContinuousClock.now - started >= timeout ? "timeout" : "unreachable")
        }
        guard (200..<300).contains(response.status), let verdict = try? JSONValue.parse(response.body) else {
            return failure("status_\(response.status)")
        }
        let reason = verdict["reason"]?.stringValue ?? "refused by the guardrail service"
        switch verdict["action"]?.stringValue ?? (verdict["allow"]?.boolValue == false ? "block" : "allow") {
        case "allow", "flag": return .allow
        case "block", "deny": return .block(reason)
        case "mask":
            guard let replaced = verdict["texts"]?.arrayValue?.compactMap(\.stringValue), replaced.count == texts.count else {
                return failure("bad_answer")
            }
            return .replace(replaced)
        default:
            return failure("bad_answer")
        }
    }
}

extension GuardrailOutput {
    /// Whether ``apply(to:endpoint:)`` would leave a complete answer as it is and decide
    /// nothing: no placeholders to put back, no webhook to ask, and no rail finds anything in
    /// any choice's text. Read from the provider's bytes in place (each choice, its message
    /// and the text scanned where they lie), so the common answer costs its detectors and not
    /// a JSON tree built, copied and dropped.
    func passes(_ scan: JSONObjectScan, endpoint: Endpoint) -> Bool {
        guard pseudonyms.isEmpty, rails.allSatisfy({ $0.detector != nil }) else { return false }
        guard let choices = scan.objectElements("choices") else { return true }
        let field = endpoint == .completions ? "text" : "content"
        for choice in choices {
            guard let text = (endpoint == .completions ? choice : choice.nested("message"))?.string(field) else { continue }
            let bytes = Array(text.utf8)
            for rail in rails where !rail.triggered(rail.detector!.findings(in: bytes, context: [])).isEmpty { return false }
        }
        return true
    }
}

extension GuardrailOutput {
    /// Output guardrails on a complete answer (OpenAI form): masks, flags, blocks (the choice
    /// ends with `content_filter` and a `refusal` naming the guardrail) and puts pseudonymized
    /// values back. Returns the decisions taken.
    func apply(to body: inout JSONValue, endpoint: Endpoint) async -> [GuardrailDecision] {
        guard case .object(var object) = body, case .array(var choices) = object["choices"] ?? .null else { return [] }
        var decisions: [String: (rail: GuardrailEngine.Rail, findings: [Finding], action: String)] = [:]
        var order: [String] = []
        let field = endpoint == .completions ? "text" : "content"
        for index in choices.indices {
            guard case .object(var choice) = choices[index] else { continue }
            var container: JSONObject = endpoint == .completions ? choice : (choice["message"]?.objectValue ?? JSONObject())
            if var text = container[field]?.stringValue.map({ Array($0.utf8) }) {
                var blockedBy: GuardrailDecision?
                for rail in rails {
                    let found: [Finding]
                    if rail.detector == nil {
                        let verdict = await Gateway.callWebhook(
                            rail, client: webhook, texts: [String(decoding: text, as: UTF8.self)], direction: "output", requestID: requestID,
                            model: model)
                        switch verdict {
                        case .allow: found = []
                        case .failedOpen(let reason): found = [Finding(entity: "webhook." + reason, range: 0..<0)]
                        case .block, .failedClosed: found = [Finding(entity: "webhook", range: 0..<text.count)]
                        case .replace(let texts):
                            text = Array((texts.first ?? "").utf8)
                            found = [Finding(entity: "webhook", range: 0..<0)]
                        }
                        if found.isEmpty { continue }
                        let action: String
                        if case .failedOpen = verdict {
                            action = "error"
                        } else if case .replace = verdict {
                            action = "mask"
                        } else {
                            action = "block"
                        }
                        if decisions[rail.rule.name] == nil { order.append(rail.rule.name) }
                        decisions[rail.rule.name, default: (rail, [], action)].findings += found
                        if action == "block" {
                            blockedBy = GuardrailDecision(rail: rail, direction: "output", findings: found, action: "block")
                            break
                        }
                        continue
                    }
                    found = rail.triggered(rail.detector!.findings(in: text, context: []))
                    guard !found.isEmpty else { continue }
                    if decisions[rail.rule.name] == nil { order.append(rail.rule.name) }
                    let action = rail.rule.action == .pseudonymize || rail.rule.action == .route ? "mask" : rail.rule.action.rawValue
                    decisions[rail.rule.name, default: (rail, [], action)].findings += found
                    switch rail.rule.action {
                    case .block:
                        blockedBy = GuardrailDecision(rail: rail, direction: "output", findings: found)
                    case .mask, .pseudonymize, .route:
                        text = GuardrailEngine.mask(text, found)
                    case .flag, .retry:
                        break
                    }
                    if blockedBy != nil { break }
                }
                if let blockedBy {
                    container[field] = endpoint == .completions ? .string("") : .null
                    if endpoint == .chatCompletions {
                        container["refusal"] = .string("The answer was blocked by guardrail '\(blockedBy.name)': \(blockedBy.reason).")
                        container["tool_calls"] = nil
                    }
                    choice["finish_reason"] = .string("content_filter")
                } else {
                    container[field] = .string(String(decoding: pseudonyms.restore(text), as: UTF8.self))
                }
            }
            if endpoint == .chatCompletions, !pseudonyms.isEmpty, case .array(var calls) = container["tool_calls"] ?? .null {
                for callIndex in calls.indices {
                    guard case .object(var call) = calls[callIndex], case .object(var function) = call["function"] ?? .null,
                        let arguments = function["arguments"]?.stringValue
                    else { continue }
                    function["arguments"] = .string(String(decoding: pseudonyms.restore(Array(arguments.utf8), escapeForJSON: true), as: UTF8.self))
                    call["function"] = .object(function)
                    calls[callIndex] = .object(call)
                }
                container["tool_calls"] = .array(calls)
            }
            if endpoint == .completions { choice = container } else { choice["message"] = .object(container) }
            choices[index] = .object(choice)
        }
        object["choices"] = .array(choices)
        body = .object(object)
        return order.compactMap { name in
            decisions[name].map { GuardrailDecision(rail: $0.rail, direction: "output", findings: $0.findings, action: $0.action) }
        }
    }
}

extension Gateway {
    /// The `json_schema` guardrail in scope of a request that asked for `response_format:
    /// json_schema`, with the schema; nil otherwise.
    func jsonSchemaRail(_ prepared: Prepared) -> (GuardrailEngine.Rail, JSONValue)? {
        guard !prepared.snapshot.guardrails.isEmpty, !prepared.isStream, prepared.inbound.endpoint == .chatCompletions,
            let format = prepared.request.scan.value("response_format"), format["type"]?.stringValue == "json_schema",
            let schema = format["json_schema"]?["schema"], schema.objectValue != nil
        else { return nil }
        let rails = prepared.snapshot.guardrails.rails.filter { $0.rule.detector == .jsonSchema }
        guard !rails.isEmpty else { return nil }
        let applicable = prepared.snapshot.guardrails.applicable(
            endpoint: prepared.inbound.dialect.routeLabel(prepared.inbound.endpoint), request: prepared.request, identity: prepared.record.identity,
            group: prepared.plan.group, headers: prepared.inbound.headers, unixTime: router.clock.unixTime)
        guard let rail = applicable.first(where: { $0.rule.detector == .jsonSchema }) else { return nil }
        return (rail, schema)
    }

    /// Validates a complete answer against the request's JSON schema. `retry` asks the model
    /// once more (a request of its own, recorded and billed as such) with the validation errors;
    /// `block` (or a retry that fails again) answers 502 `invalid_json_output`; `flag` passes.
    func enforceJSONSchema(
        _ response: GatewayResponse, prepared: Prepared, rail: GuardrailEngine.Rail, schema: JSONValue, headers: [HeaderField]
    ) async -> GatewayResponse {
        func problems(_ response: GatewayResponse) -> (text: String, errors: [String])? {
            guard response.status == 200, case .buffer(let buffer) = response.body, let body = try? JSONValue.parse(Array(buffer: buffer)) else {
                return nil
            }
            let text: String
            if let content = body["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue {
                text = content
            } else if let blocks = body["content"]?.arrayValue {
                text = blocks.compactMap { $0["text"]?.stringValue }.joined()
            } else {
                return nil
            }
            guard let value = try? JSONValue.parse(Array(text.utf8)) else { return (text, ["$: the answer is not valid JSON"]) }
            let errors = JSONSchemaValidator(schema: schema).errors(in: value)
            return errors.isEmpty ? nil : (text, errors)
        }
        guard let (text, errors) = problems(response) else { return response }
        let name = rail.rule.name
        func decision(_ action: String) -> HeaderField {
            HeaderField("x-switchyard-guardrails", "\(name)=\(action)(json_schema.invalid:\(errors.count))")
        }
        func refusal(_ errors: [String]) -> GatewayResponse {
            var failed = GatewayResponse.error(
                .upstreamUnavailable(
                    "The model's answer does not match the requested JSON schema (guardrail '\(name)'): "
                        + errors.prefix(5).joined(separator: "; ") + (errors.count > 5 ? " (and \(errors.count - 5) more)" : "") + ".",
                    code: .invalidJSONOutput),
                dialect: prepared.inbound.dialect)
            failed.headers.append(contentsOf: response.headers.filter { $0.name.hasPrefix("x-switchyard-") && $0.name != "x-switchyard-guardrails" })
            return failed
        }
        switch rail.rule.action {
        case .flag:
            var flagged = response
            flagged.headers.append(decision("flag"))
            return flagged
        case .retry:
            guard case .object(var object) = (try? JSONValue.parse(Array(buffer: prepared.inbound.body))) ?? .null,
                var messages = object["messages"]?.arrayValue
            else { return refusal(errors) }
            messages.append(["role": "assistant", "content": .string(text)])
            messages.append([
                "role": "user",
                "content": .string(
                    "Your previous answer does not match the required JSON schema: \(errors.prefix(10).joined(separator: "; ")). "
                        + "Answer again with only a JSON value that matches the schema."),
            ])
            object["messages"] = .array(messages)
            var retry = prepared
            let body = JSONValue.object(object).serializedBytes()
            guard let request = try? OpenAIRequest(endpoint: prepared.inbound.endpoint, body: body) else { return refusal(errors) }
            retry.request = request
            retry.inbound.body = ByteBuffer(bytes: body)
            retry.inbound.nativeBody = nil
            retry.inbound.requestID = prepared.inbound.requestID + "-schema-retry"
            retry.record.requestID = retry.inbound.requestID
            retry.record.guardrails = [
                GuardrailDecision(name: name, direction: "output", action: "retry", entities: ["json_schema.invalid": errors.count])
            ]
            var second = await runPipeline(retry, inputStages: false)
            if let (_, again) = problems(second) {
                var failed = refusal(again)
                failed.headers.append(decision("block"))
                return failed
            }
            second.headers.append(decision("retry"))
            return second
        default:
            var failed = refusal(errors)
            failed.headers.append(decision("block"))
            return failed
        }
    }
}
