/// A JSON Schema validator for the subset that request metadata and structured outputs use:
/// `type` (one or a list), `properties`, `required`, `additionalProperties` (bool or schema),
/// `items`, `enum`, `const`, `minimum`/`maximum` (and exclusive), `minLength`/`maxLength`,
/// `minItems`/`maxItems`, `pattern`, `anyOf`/`oneOf`/`allOf`, `nullable`, and local `$ref`s
/// (`#/$defs/...`, `#/definitions/...`). Unknown keywords are ignored, as the spec asks.
public struct JSONSchemaValidator: Sendable {
    public let schema: JSONValue

    public init(schema: JSONValue) {
        self.schema = schema
    }

    /// Every violation, each with the JSON path where it occurs (`$.items[2].price`).
    public func errors(in value: JSONValue, limit: Int = 20) -> [String] {
        var errors: [String] = []
        validate(value, against: schema, path: "$", errors: &errors, depth: 0, limit: limit)
        return errors
    }

    private func resolve(_ schema: JSONValue) -> JSONValue {
        guard let reference = schema["$ref"]?.stringValue, reference.hasPrefix("#/") else { return schema }
        var node = self.schema
        for part in reference.dropFirst(2).split(separator: "/") {
            guard let next = node[String(part).replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")] else {
                return .object(JSONObject())
            }
            node = next
        }
        return node
    }

    private func typeName(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "boolean"
        case .number(let number, _): number == number.rounded() && abs(number) < 9e15 ? "integer" : "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    private func validate(_ value: JSONValue, against rawSchema: JSONValue, path: String, errors: inout [String], depth: Int, limit: Int) {
        guard errors.count < limit, depth < 64 else { return }
        let schema = resolve(rawSchema)
        if case .bool(let allowed) = schema {
            if !allowed { errors.append("\(path): no value is allowed here") }
            return
        }
        guard schema.objectValue != nil else { return }
        let actual = typeName(value)
        if let types = schema["type"].map({ $0.arrayValue?.compactMap(\.stringValue) ?? [$0.stringValue].compactMap { $0 } }), !types.isEmpty {
            var accepted = types
            if schema["nullable"]?.boolValue == true { accepted.append("null") }
            let matches = accepted.contains(actual) || (actual == "integer" && accepted.contains("number"))
            if !matches {
                errors.append("\(path): expected \(accepted.joined(separator: " or ")), found \(actual)")
                return
            }
        }
        if let options = schema["enum"]?.arrayValue, !options.contains(value) {
            errors.append("\(path): must be one of \(options.map { $0.serialized() }.joined(separator: ", "))")
        }
        if let constant = schema["const"], constant != value {
            errors.append("\(path): must be \(constant.serialized())")
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            guard let branches = schema[key]?.arrayValue, !branches.isEmpty else { continue }
            let results = branches.map { branch -> [String] in
                var branchErrors: [String] = []
                validate(value, against: branch, path: path, errors: &branchErrors, depth: depth + 1, limit: limit)
                return branchErrors
            }
            let passing = results.filter(\.isEmpty).count
            switch key {
            case "allOf": errors.append(contentsOf: results.flatMap { $0 })
            case "anyOf" where passing == 0: errors.append("\(path): matches none of the allowed shapes (\(results.first?.first ?? "anyOf"))")
            case "oneOf" where passing != 1: errors.append("\(path): must match exactly one of the allowed shapes, matches \(passing)")
            default: break
            }
        }
        switch value {
        case .number(let number, _):
            if let minimum = schema["minimum"]?.doubleValue, number < minimum { errors.append("\(path): must be >= \(format(minimum))") }
            if let maximum = schema["maximum"]?.doubleValue, number > maximum { errors.append("\(path): must be <= \(format(maximum))") }
            if let minimum = schema["exclusiveMinimum"]?.doubleValue, number <= minimum { errors.append("\(path): must be > \(format(minimum))") }
            if let maximum = schema["exclusiveMaximum"]?.doubleValue, number >= maximum { errors.append("\(path): must be < \(format(maximum))") }
        case .string(let text):
            let length = text.count
            if let minimum = schema["minLength"]?.intValue, length < minimum { errors.append("\(path): must have at least \(minimum) characters") }
            if let maximum = schema["maxLength"]?.intValue, length > maximum { errors.append("\(path): must have at most \(maximum) characters") }
            if let pattern = schema["pattern"]?.stringValue, let regex = try? Regex(pattern), (try? regex.firstMatch(in: text)) == nil {
                errors.append("\(path): must match the pattern \(pattern)")
            }
        case .array(let items):
            if let minimum = schema["minItems"]?.intValue, items.count < minimum { errors.append("\(path): must have at least \(minimum) items") }
            if let maximum = schema["maxItems"]?.intValue, items.count > maximum { errors.append("\(path): must have at most \(maximum) items") }
            if let itemSchema = schema["items"], itemSchema.objectValue != nil || itemSchema.boolValue != nil {
                for (index, item) in items.enumerated() {
                    validate(item, against: itemSchema, path: "\(path)[\(index)]", errors: &errors, depth: depth + 1, limit: limit)
                }
            }
        case .object(let object):
            let properties = schema["properties"]?.objectValue ?? JSONObject()
            for name in schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where object[name] == nil {
                errors.append("\(path): missing required property '\(name)'")
            }
            for member in object.members {
                let childPath = "\(path).\(member.key)"
                if let propertySchema = properties[member.key] {
                    validate(member.value, against: propertySchema, path: childPath, errors: &errors, depth: depth + 1, limit: limit)
                } else if let additional = schema["additionalProperties"] {
                    if additional.boolValue == false {
                        errors.append("\(path): property '\(member.key)' is not allowed")
                    } else if additional.objectValue != nil {
                        validate(member.value, against: additional, path: childPath, errors: &errors, depth: depth + 1, limit: limit)
                    }
                }
            }
        default:
            break
        }
    }

    private func format(_ number: Double) -> String {
        number == number.rounded() && abs(number) < 1e15 ? String(Int(number)) : String(number)
    }
}
