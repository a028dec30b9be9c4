import HTTPTypes

extension HTTPFields {
    /// `self[name]`: the value of the field with this name, the values joined when it comes
    /// more than once. Found by going through the fields (a request has a handful), without
    /// the name index `self[name]` builds on first use and its lazy join, which together cost
    /// more than the rest of reading a request's headers.
    func value(_ name: HTTPField.Name) -> String? {
        var found: String?
        for field in self where field.name == name {
            if found != nil { return self[name] }
            found = field.value
        }
        return found
    }
}
