#pragma once

#include "engine/enginebridge.h"

#include <QWidget>

class QLabel;
class QVBoxLayout;

namespace convscope::ui {

/// Drop an image (or click a thumbnail elsewhere): the image and its top classes with
/// probability bars, from the current model.
class ClassifyPanel : public QWidget {
    Q_OBJECT
public:
    ClassifyPanel(EngineBridge* bridge, QWidget* parent = nullptr);

    void setWeights(const QString& path);
    const QString& weights() const { return m_weights; }
    void classify(const QString& imagePath);

    /// The class shown first, and the lines shown ("class  0.93"), for tests.
    QString topClass() const { return m_topClass; }
    QStringList shownLines() const;

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    void show(const Classification& c);

    EngineBridge* m_bridge;
    QString m_weights;
    QString m_topClass;
    QLabel* m_image;
    QLabel* m_caption;
    QVBoxLayout* m_bars;
    QList<QWidget*> m_rows;
};

}  // namespace convscope::ui
