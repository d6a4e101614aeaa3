#pragma once

// Internal to ui/engine: the workers keep the object they last made from a weights file (a
// Predictor, an Inspector) and make it again when another file is asked for or the file
// changed on disk (training rewrites latest.h5 every epoch).

#include <QFileInfo>
#include <QString>

#include <functional>
#include <memory>

namespace convscope::ui {

template <typename T>
class FileBackedCache {
public:
    using Make = std::function<std::unique_ptr<T>(const QString& path)>;

    explicit FileBackedCache(Make make) : m_make(std::move(make)) {}

    /// The object for `path`, made anew when the path, the file's modification time or its
    /// size changed since the last call. Rethrows what making it throws, and then holds
    /// nothing: a file that fails to load never leaves the previous file's object in place.
    T& get(const QString& path) {
        const QFileInfo info(path);
        const qint64 stamp = info.lastModified().toMSecsSinceEpoch();
        const qint64 size = info.size();
        if (!m_object || path != m_path || stamp != m_stamp || size != m_size) {
            m_object.reset();
            m_object = m_make(path);
            m_path = path;
            m_stamp = stamp;
            m_size = size;
        }
        return *m_object;
    }

private:
    Make m_make;
    std::unique_ptr<T> m_object;
    QString m_path;
    qint64 m_stamp = 0;
    qint64 m_size = -1;
};

}  // namespace convscope::ui
