/// The version of Switchyard: the one place it is written.
///
/// `switchyard --version`, `/health/live`, `/health/ready`, the OpenAPI document, the traces'
/// `service.version` and the release tarball's name (`scripts/package`) all read it. Raise it with
/// a CHANGELOG.md entry when a release is cut.
public enum SwitchyardVersion {
    public static let current = "0.1.0"
}
