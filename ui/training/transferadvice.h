#pragma once

#include <QFrame>
#include <QList>
#include <QStringList>

class QLabel;
class QPushButton;

namespace convscope::ui {

/// A note above the training status that suggests fine-tuning a pretrained backbone when a
/// class has few training images; its button asks for the starting weights control. Shown
/// when a dataset is opened and again when a run starts from scratch; closed with ×.
class TransferAdvice : public QFrame {
    Q_OBJECT
public:
    /// Fewer training images than this in a class is "few".
    static constexpr int kFewImages = 100;

    explicit TransferAdvice(QWidget* parent = nullptr);

    /// The advice for classes `names` with `trainCounts` training images each; empty when
    /// every class has at least `threshold`.
    static QString adviceText(const QStringList& names, const QList<int>& trainCounts,
                              int threshold = kFewImages);

    /// A dataset was opened: shows the advice when a class is small and there are no starting
    /// weights yet; hides it otherwise.
    void setClasses(const QStringList& names, const QList<int>& trainCounts,
                    bool hasStartingWeights);
    /// A run is starting from scratch (no starting weights): shows the advice again when the
    /// open dataset has a small class, even after it was closed.
    void remindAtStart();
    /// Starting weights were chosen: the advice has been taken.
    void dismiss();
    QString text() const;
    /// Whether the open dataset has a class with few images.
    bool applies() const { return !m_text.isEmpty(); }
    QPushButton* chooseButton() const { return m_choose; }

Q_SIGNALS:
    /// "Choose starting weights" was clicked.
    void startingWeightsRequested();

private:
    QString m_text;
    QLabel* m_label;
    QPushButton* m_choose;
};

}  // namespace convscope::ui
