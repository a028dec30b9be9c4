/// Decoding of `prompts:`.
extension Context {
    mutating func decodeScope(_ mapping: inout MappingReader, path: String) -> PromptScope {
        var scope = PromptScope()
        if let node = mapping.take("models") { scope.models = strings(node, path: "\(path).models") }
        if let node = mapping.take("keys") { scope.keys = strings(node, path: "\(path).keys") }
        if let node = mapping.take("teams") { scope.teams = strings(node, path: "\(path).teams") }
        if let node = mapping.take("orgs") { scope.orgs = strings(node, path: "\(path).orgs") }
        if let node = mapping.take("endpoints") { scope.endpoints = strings(node, path: "\(path).endpoints") }
        return scope
    }

    static let scopeKeys = ["models", "keys", "teams", "orgs", "endpoints"]

    mutating func decodePrompts(_ node: ConfigNode) -> PromptSettings {
        var settings = PromptSettings()
        guard var mapping = MappingReader(node, path: "prompts", context: &self) else { return settings }
        if let node = mapping.take("templates") {
            var seen: Set<String> = []
            for item in sequence(node, path: "prompts.templates") {
                guard var entry = MappingReader(item.node, path: item.path, context: &self) else { continue }
                guard let name = entry.take("name").flatMap({ string($0, path: "\(item.path).name") }) else {
                    error("\(item.path) needs a 'name'", at: item.node.location)
                    entry.finishAll()
                    continue
                }
                var template = PromptTemplate(name: name)
                template.location = item.node.location
                if let node = entry.take("version"), let value = integer(node, path: "\(item.path).version") { template.version = value }
                if !seen.insert("\(name)@\(template.version)").inserted {
                    error("template '\(name)' version \(template.version) is defined twice", at: item.node.location)
                }
                template.model = entry.take("model").flatMap { string($0, path: "\(item.path).model") }
                if let node = entry.take("variables") {
                    if case .mapping(let entries, _) = node {
                        for variableEntry in entries {
                            let path = "\(item.path).variables.\(variableEntry.key)"
                            var variable = PromptVariable(name: variableEntry.key)
                            if case .scalar(let type, _, _) = variableEntry.value {
                                guard let kind = PromptVariable.Kind(rawValue: type) else {
                                    error(
                                        "\(path): unknown type '\(type)'", at: variableEntry.value.location,
                                        hint: "string, integer, number or boolean")
                                    continue
                                }
                                variable.kind = kind
                            } else if var spec = MappingReader(variableEntry.value, path: path, context: &self) {
                                if let node = spec.take("type"), let text = string(node, path: "\(path).type") {
                                    if let kind = PromptVariable.Kind(rawValue: text) {
                                        variable.kind = kind
                                    } else {
                                        error("\(path).type must be string, integer, number or boolean", at: node.location)
                                    }
                                }
                                if let node = spec.take("required"), let value = bool(node, path: "\(path).required") { variable.required = value }
                                if let node = spec.take("default") { variable.defaultValue = node.jsonValue }
                                if let node = spec.take("enum") { variable.allowed = sequence(node, path: "\(path).enum").map { $0.node.jsonValue } }
                                if let node = spec.take("max_length"), let value = integer(node, path: "\(path).max_length") {
                                    variable.maxLength = value
                                }
                                spec.finish(known: ["type", "required", "default", "enum", "max_length"], context: &self)
                            }
                            template.variables.append(variable)
                        }
                    } else {
                        error(
                            "\(item.path).variables must map names to types", at: node.location,
                            hint: "variables: {customer: {type: string, required: true}}")
                    }
                }
                if let node = entry.take("messages") {
                    for message in sequence(node, path: "\(item.path).messages") {
                        guard var reader = MappingReader(message.node, path: message.path, context: &self) else { continue }
                        let role = reader.take("role").flatMap { string($0, path: "\(message.path).role") } ?? "user"
                        if !["system", "developer", "user", "assistant"].contains(role) {
                            error("\(message.path).role must be system, developer, user or assistant", at: message.node.location)
                        }
                        let content = reader.take("content").flatMap { string($0, path: "\(message.path).content") } ?? ""
                        reader.finish(known: ["role", "content"], context: &self)
                        template.messages.append((role, content))
                        let declared = Set(template.variables.map(\.name))
                        for placeholder in PromptRenderer.placeholders(in: content)
                        where !declared.contains(placeholder) && !PromptRenderer.isContextPath(placeholder) {
                            error(
                                "\(message.path): '{{\(placeholder)}}' is not a declared variable", at: message.node.location,
                                hint: "declare it under variables:, or use a context value (identity.team, metadata.<key>, header.<name>, date)")
                        }
                    }
                }
                if template.messages.isEmpty { error("\(item.path) needs 'messages'", at: item.node.location) }
                entry.finish(known: ["name", "version", "model", "variables", "messages"], context: &self)
                settings.templates.append(template)
            }
        }
        if let node = mapping.take("system") {
            for item in sequence(node, path: "prompts.system") {
                guard var entry = MappingReader(item.node, path: item.path, context: &self) else { continue }
                let name = entry.take("name").flatMap { string($0, path: "\(item.path).name") } ?? item.path
                guard let content = entry.take("content").flatMap({ string($0, path: "\(item.path).content") }) else {
                    error("\(item.path) needs 'content'", at: item.node.location)
                    entry.finishAll()
                    continue
                }
                var rule = SystemPromptRule(name: name, content: content)
                if let node = entry.take("mode"), let text = string(node, path: "\(item.path).mode") {
                    if let mode = SystemPromptRule.Mode(rawValue: text) {
                        rule.mode = mode
                    } else {
                        error("\(item.path).mode must be prepend, append or replace", at: node.location)
                    }
                }
                for placeholder in PromptRenderer.placeholders(in: content) where !PromptRenderer.isContextPath(placeholder) {
                    error(
                        "\(item.path): '{{\(placeholder)}}' is not a context value", at: item.node.location,
                        hint: "identity.team, metadata.<key>, header.<name>, date")
                }
                rule.scope = decodeScope(&entry, path: item.path)
                entry.finish(known: ["name", "content", "mode"] + Self.scopeKeys, context: &self)
                settings.systemPrompts.append(rule)
            }
        }
        if let node = mapping.take("validation") {
            for item in sequence(node, path: "prompts.validation") {
                guard var entry = MappingReader(item.node, path: item.path, context: &self) else { continue }
                var rule = ValidationRule(name: entry.take("name").flatMap { string($0, path: "\(item.path).name") } ?? item.path)
                if let node = entry.take("max_messages"), let value = integer(node, path: "\(item.path).max_messages") { rule.maxMessages = value }
                if let node = entry.take("max_prompt_tokens"), let value = integer(node, path: "\(item.path).max_prompt_tokens") {
                    rule.maxPromptTokens = value
                }
                if let node = entry.take("required") { rule.requiredFields = strings(node, path: "\(item.path).required") }
                if let node = entry.take("allowed_params") { rule.allowedParameters = strings(node, path: "\(item.path).allowed_params") }
                if let node = entry.take("metadata_schema") {
                    let schema = node.jsonValue
                    if schema.objectValue == nil { error("\(item.path).metadata_schema must be a JSON Schema object", at: node.location) }
                    rule.metadataSchema = schema
                }
                rule.scope = decodeScope(&entry, path: item.path)
                entry.finish(
                    known: ["name", "max_messages", "max_prompt_tokens", "required", "allowed_params", "metadata_schema"] + Self.scopeKeys,
                    context: &self)
                settings.validation.append(rule)
            }
        }
        if let node = mapping.take("responses") {
            for item in sequence(node, path: "prompts.responses") {
                guard var entry = MappingReader(item.node, path: item.path, context: &self) else { continue }
                var rule = ResponseRule(name: entry.take("name").flatMap { string($0, path: "\(item.path).name") } ?? item.path)
                if let node = entry.take("strip") { rule.strip = strings(node, path: "\(item.path).strip") }
                if let node = entry.take("add_metadata"), let value = bool(node, path: "\(item.path).add_metadata") { rule.addMetadata = value }
                if let node = entry.take("envelope"), let value = bool(node, path: "\(item.path).envelope") { rule.envelope = value }
                rule.scope = decodeScope(&entry, path: item.path)
                entry.finish(known: ["name", "strip", "add_metadata", "envelope"] + Self.scopeKeys, context: &self)
                settings.responses.append(rule)
            }
        }
        mapping.finish(known: ["templates", "system", "validation", "responses"], context: &self)
        return settings
    }
}
