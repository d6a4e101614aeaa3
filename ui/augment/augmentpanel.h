#pragma once

#include "augment/augmentparams.h"

#include <QImage>
#include <QList>
#include <QTimer>
#include <QWidget>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QGridLayout;
class QLabel;

namespace convscope::ui {

class EngineBridge;

/// Every ImageDataGenerator parameter, and a grid of augmented variants of the chosen image
/// that is redrawn shortly after any change.
class AugmentPanel : public QWidget {
    Q_OBJECT
public:
    AugmentPanel(EngineBridge* bridge, QWidget* parent = nullptr);

    convscope::AugmentParams params() const;
    bool augmentationEnabled() const;
    void setImage(const QString& path, const QString& className);
    const QString& imagePath() const { return m_imagePath; }
    const QList<QImage>& previews() const { return m_previews; }

    void reseed();
    /// Writes the previews as <class>_<index>_<random>.jpeg; returns how many were written.
    int savePreviews(const QString& folder) const;

    /// Disables the parameters with `reason` shown above them (training cannot use them, e.g.
    /// with bottleneck features); an empty reason enables them again. Previews still work.
    void setTrainingBlocked(const QString& reason);
    bool isTrainingBlocked() const;
    QLabel* blockedNote() const { return m_blockedNote; }

    /// Sets a parameter spin box by its Keras name (rotation_range, ...), for tests and scripts.
    bool setParameter(const QString& kerasName, double value);

Q_SIGNALS:
    void paramsChanged();
    void previewsUpdated();

private:
    QDoubleSpinBox* addSpin(const QString& label, const QString& kerasName, double max, double step,
                            double value = 0);
    void requestPreviews();
    void showPreviews(const QList<QImage>& images);

    EngineBridge* m_bridge;
    QString m_imagePath;
    QString m_className;
    quint64 m_seed = 1;
    QList<QImage> m_previews;
    QTimer m_debounce;
    QList<QPair<QString, QDoubleSpinBox*>> m_spins;
    QCheckBox* m_enabled;
    QCheckBox* m_horizontalFlip;
    QCheckBox* m_verticalFlip;
    QComboBox* m_fillMode;
    QWidget* m_form;
    QLabel* m_blockedNote;
    QGridLayout* m_grid;
    QList<QLabel*> m_tiles;
};

}  // namespace convscope::ui
