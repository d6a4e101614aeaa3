#pragma once

#include "ui/engine/enginebridge.h"

#include <QWidget>

class QComboBox;
class QLabel;
class QSlider;
class QVBoxLayout;

namespace convscope::ui {

/// Drop an image (or click a thumbnail elsewhere): the image and its top classes with
/// probability bars, from the current model, and where in the image the network found the
/// class: a class activation map (CAM for global-average-pooling heads, Grad-CAM for any)
/// overlaid on the image with the paper's box, for the predicted class or any chosen one
/// (pick it in the list or click a probability row).
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

    /// classIndex < 0: the predicted class.
    void setCamClass(int classIndex);
    void setCamMethod(convscope::CamMethod method);
    convscope::CamMethod camMethod() const;
    bool camAvailable() const;
    void setOverlayOpacity(int percent);
    /// The last class activation map and the picture shown (image, heat, box).
    const CamResult& camResult() const { return m_cam; }
    const QImage& overlay() const { return m_overlay; }

Q_SIGNALS:
    void camShown();

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    QWidget* createCamControls();
    void show(const Classification& c);
    void requestCam();
    void onCam(const CamResult& cam);
    void renderOverlay();

    EngineBridge* m_bridge;
    QString m_weights;
    QString m_topClass;
    QString m_imagePath;
    int m_topIndex = -1;
    QStringList m_classNames;
    CamResult m_cam;
    QImage m_overlay;
    QLabel* m_image;
    QLabel* m_caption;
    QComboBox* m_method = nullptr;
    QComboBox* m_class = nullptr;
    QSlider* m_opacity = nullptr;
    QComboBox* m_colormap = nullptr;
    QLabel* m_camCaption = nullptr;
    QVBoxLayout* m_bars;
    QList<QWidget*> m_rows;
};

}  // namespace convscope::ui
