import SwitchyardCore

/// A JSON object sent to the admin API, read field by field with errors that name the field.
struct AdminBody {
    let object: JSONObject

    init(_ bytes: [UInt8]) throws {
        guard let object = (try? JSONValue.parse(bytes))?.objectValue else { throw GatewayError.invalidJSON("the body must be a JSON object") }
        self.object = object
    }

    func string(_ field: String) throws -> String? {
        guard let value = object[field], !value.isNull else { return nil }
        guard let text = value.stringValue else { throw GatewayError.invalidType(field: field, expected: "a string", found: value.typeName) }
        return text
    }

    func strings(_ field: String) throws -> [String]? {
        guard let value = object[field], !value.isNull else { return nil }
        guard let items = value.arrayValue?.compactMap(\.stringValue), items.count == value.arrayValue?.count else {
            throw GatewayError.invalidType(field: field, expected: "an array of strings", found: value.typeName)
        }
        return items
    }

    /// `metadata`: an object of strings.
    func metadata() throws -> [String: String] {
        var result: [String: String] = [:]
        if let value = object["metadata"], !value.isNull, value.objectValue == nil {
            throw GatewayError.invalidType(field: "metadata", expected: "an object of strings", found: value.typeName)
        }
        for (key, value) in object["metadata"]?.objectValue?.members ?? [] {
            guard let text = value.stringValue else {
                throw GatewayError.invalidType(field: "metadata.\(key)", expected: "a string", found: value.typeName)
            }
            result[key] = text
        }
        return result
    }

    /// `budget`: `{"amount": USD, "period": daily|weekly|monthly|total}` (period default monthly).
    func budget() throws -> BudgetLimit? {
        guard let value = object["budget"], !value.isNull else { return nil }
        guard let budget = value.objectValue, let amount = budget["amount"]?.doubleValue, amount >= 0, amount.isFinite else {
            throw GatewayError.invalidRequest(
                "'budget' must be an object with a non-negative 'amount' in USD and an optional 'period'.", param: "budget", code: .invalidValue)
        }
        guard let period = BudgetPeriod(rawValue: budget["period"]?.stringValue ?? "monthly") else {
            throw GatewayError.invalidRequest(
                "'budget.period' must be one of: \(BudgetPeriod.allCases.map(\.rawValue).joined(separator: ", ")).", param: "budget.period",
                code: .invalidValue)
        }
        return BudgetLimit(amount: amount, period: period)
    }
}
