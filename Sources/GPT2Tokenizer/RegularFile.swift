import Foundation

/// Model and tokenizer files are read whole: a FIFO named `config.json` would block that read
/// forever, a device might never end. Anything but a regular file (after symbolic links) is
/// refused before it is opened.
package func isRegularFileOrMissing(_ url: URL) -> Bool {
    var info = stat()
    return stat(url.path, &info) != 0 || (info.st_mode & S_IFMT) == S_IFREG
}
