/// Guardrails on MCP traffic: input guardrails judge the arguments a client sends to a tool or
/// prompt, output guardrails judge what tools, prompts and resources send back. Tool results are
/// read as `tool` messages, so the injection detector weighs them as indirect injection.
extension Gateway {
    /// What the guardrails made of one MCP payload.
    public struct MCPGuardrailResult: Sendable {
        /// The payload to go on with (masked where a guardrail masked).
        public var value: JSONValue
        public var decisions: [GuardrailDecision] = []
        /// Set when a guardrail refused the payload.
        public var refusal: JSONRPCError?
    }

    /// The guardrails that apply to `/mcp`: those whose `endpoints` list `mcp` or that name no
    /// endpoints and no models, within their key/team/org/user/role scope. Conditions written for
    /// model requests (`when:`) never hold for MCP calls.
    func mcpRails(_ snapshot: RuntimeSnapshot, identity: Identity) -> [GuardrailEngine.Rail] {
        snapshot.guardrails.rails.filter { rail in
            let rule = rail.rule
            if rule.detector == .jsonSchema || rail.conditions != nil { return false }
            if let endpoints = rule.endpoints {
                if !endpoints.contains(AccessPolicy.mcpEndpoint) { return false }
            } else if rule.models != nil {
                return false
            }
            return rail.covers(identity)
        }
    }

    /// Runs the `/mcp` guardrails of `direction` (`input`: arguments; `output`: a result) over
    /// the payload's texts. `label` (`server/tool`) goes to webhook guardrails as the model.
    public func guardMCP(
        _ value: JSONValue, direction: String, identity: Identity, snapshot: RuntimeSnapshot, requestID: String, label: String
    ) async -> MCPGuardrailResult {
        var result = MCPGuardrailResult(value: value)
        let input = direction == "input"
        let role = input ? "user" : "tool"
        let rails = mcpRails(snapshot, identity: identity).filter {
            (input ? $0.rule.direction.checksInput : $0.rule.direction.checksOutput) && $0.checks(role: role)
        }
        guard !rails.isEmpty else { return result }
        for rail in rails {
            let rule = rail.rule
            if !input, rule.action != .flag, !rule.allowsNonText, let kind = MCPTexts.nonText(in: result.value) {
                var decision = GuardrailDecision(name: rule.name, direction: direction, action: "block", entities: ["unscannable." + kind: 1])
                decision.audited = rule.audits("block")
                result.decisions.append(decision)
                result.refusal = .guardrailBlocked(rule.name, reason: "the result holds \(kind) content, which it cannot check", direction: direction)
                return result
            }
            guard let detector = rail.detector else {
                var texts: [String] = []
                _ = MCPTexts.rewrite(&result.value, input: input) { text in
                    texts.append(text)
                    return nil
                }
                guard !texts.isEmpty else { continue }
                switch await callWebhook(rail, texts: texts, direction: direction, requestID: requestID, model: label) {
                case .allow:
                    continue
                case .failedOpen(let reason):
                    result.decisions.append(
                        GuardrailDecision(name: rule.name, direction: direction, action: "error", entities: ["webhook." + reason: 1]))
                case .block(let reason), .failedClosed(let reason):
                    result.decisions.append(GuardrailDecision(name: rule.name, direction: direction, action: "block", entities: ["webhook": 1]))
                    result.refusal = .guardrailBlocked(rule.name, reason: reason, direction: direction)
                    return result
                case .replace(let replacements):
                    var next = replacements.makeIterator()
                    _ = MCPTexts.rewrite(&result.value, input: input) { text in
                        guard let replacement = next.next() else { return nil }
                        return replacement == text ? nil : replacement
                    }
                    var decision = GuardrailDecision(name: rule.name, direction: direction, action: "mask", entities: ["webhook": 1])
                    decision.audited = rule.audits("mask")
                    result.decisions.append(decision)
                }
                continue
            }
            var hits: [Finding] = []
            let masks = rule.action == .mask || rule.action == .pseudonymize
            _ = MCPTexts.rewrite(&result.value, input: input) { text in
                let bytes = Array(text.utf8)
                let found = rail.triggered(detector.findings(in: bytes, context: [], role: role))
                guard !found.isEmpty else { return nil }
                hits.append(contentsOf: found)
                return masks ? String(decoding: GuardrailEngine.mask(bytes, found), as: UTF8.self) : nil
            }
            guard !hits.isEmpty else { continue }
            // A tool call has no other model to go to and no placeholders to restore: `route`
            // refuses, `pseudonymize` masks.
            let action = masks ? "mask" : (rule.action == .flag ? "flag" : "block")
            let decision = GuardrailDecision(rail: rail, direction: direction, findings: hits, action: action)
            result.decisions.append(decision)
            if action == "block" {
                result.refusal = .guardrailBlocked(rule.name, reason: decision.reason, direction: direction)
                return result
            }
        }
        return result
    }
}

/// The texts of MCP payloads that guardrails read.
enum MCPTexts {
    /// Rewrites strings in place: every string of arguments (`input`), and in results the `text`
    /// members (content blocks, embedded resources, prompt messages) and everything inside
    /// `structuredContent`. `visit` returns a replacement or nil. Returns whether anything changed.
    static func rewrite(_ value: inout JSONValue, input: Bool, _ visit: (String) -> String?) -> Bool {
        rewrite(&value, all: input, visit)
    }

    private static func rewrite(_ value: inout JSONValue, all: Bool, _ visit: (String) -> String?) -> Bool {
        switch value {
        case .string(let text):
            guard all, let replacement = visit(text) else { return false }
            value = .string(replacement)
            return true
        case .array(var items):
            var changed = false
            for index in items.indices where rewrite(&items[index], all: all, visit) { changed = true }
            if changed { value = .array(items) }
            return changed
        case .object(var object):
            var changed = false
            for key in object.keys {
                guard var member = object[key] else { continue }
                let memberAll = all || key == "structuredContent"
                let didChange: Bool
                if !memberAll, key == "text", case .string(let text) = member {
                    if let replacement = visit(text) {
                        member = .string(replacement)
                        didChange = true
                    } else {
                        didChange = false
                    }
                } else {
                    didChange = rewrite(&member, all: memberAll, visit)
                }
                if didChange {
                    object[key] = member
                    changed = true
                }
            }
            if changed { value = .object(object) }
            return changed
        default:
            return false
        }
    }

    /// The kind of the first content a text guardrail cannot read (an image, audio, a binary
    /// resource), or nil.
    static func nonText(in value: JSONValue) -> String? {
        switch value {
        case .array(let items):
            for item in items { if let kind = nonText(in: item) { return kind } }
        case .object(let object):
            if let type = object["type"]?.stringValue, ["image", "audio"].contains(type) { return type }
            if object["blob"] != nil { return "binary" }
            for key in object.keys where key != "structuredContent" && key != "_meta" {
                if let member = object[key], let kind = nonText(in: member) { return kind }
            }
        default:
            break
        }
        return nil
    }
}
