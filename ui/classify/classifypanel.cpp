#include "classify/classifypanel.h"

#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QMimeData>
#include <QProgressBar>
#include <QVBoxLayout>

#include <algorithm>
#include <numeric>

namespace convscope::ui {

namespace {
constexpr int kTopK = 5;
}

ClassifyPanel::ClassifyPanel(EngineBridge* bridge, QWidget* parent)
    : QWidget(parent),
      m_bridge(bridge),
      m_image(new QLabel),
      m_caption(new QLabel),
      m_bars(new QVBoxLayout) {
    setAcceptDrops(true);
    m_image->setFixedSize(200, 200);
    m_image->setAlignment(Qt::AlignCenter);
    m_image->setStyleSheet(QStringLiteral("border: 1px dashed #888888"));
    m_image->setText(tr("Drop an image here\nor click a thumbnail"));
    m_caption->setWordWrap(true);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_image, 0, Qt::AlignHCenter);
    layout->addWidget(m_caption);
    layout->addLayout(m_bars);
    layout->addStretch();
    connect(m_bridge, &EngineBridge::classified, this, &ClassifyPanel::show);
}

void ClassifyPanel::setWeights(const QString& path) {
    m_weights = path;
}

void ClassifyPanel::classify(const QString& imagePath) {
    if (m_weights.isEmpty()) {
        m_caption->setText(
            tr("No model yet: train one, or load weights with File > Load weights."));
        return;
    }
    m_caption->setText(tr("Classifying %1…").arg(QFileInfo(imagePath).fileName()));
    m_bridge->classify(m_weights, imagePath);
}

QStringList ClassifyPanel::shownLines() const {
    QStringList lines;
    for (QWidget* row : m_rows)
        lines.push_back(row->accessibleName());
    return lines;
}

void ClassifyPanel::show(const Classification& c) {
    for (QWidget* row : m_rows)
        row->deleteLater();
    m_rows.clear();
    std::vector<int> order(std::size_t(c.probabilities.size()));
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](int a, int b) { return c.probabilities[a] > c.probabilities[b]; });
    m_topClass = order.empty() ? QString() : c.classNames[order.front()];
    m_image->setPixmap(QPixmap::fromImage(c.preview));
    m_caption->setText(tr("%1: <b>%2</b>").arg(QFileInfo(c.imagePath).fileName(), m_topClass));
    for (int k = 0; k < std::min<int>(kTopK, int(order.size())); ++k) {
        const int cls = order[std::size_t(k)];
        auto* row = new QWidget;
        auto* h = new QHBoxLayout(row);
        h->setContentsMargins(0, 0, 0, 0);
        auto* name = new QLabel(c.classNames[cls]);
        name->setMinimumWidth(90);
        auto* bar = new QProgressBar;
        bar->setRange(0, 1000);
        bar->setValue(int(c.probabilities[cls] * 1000));
        bar->setFormat(QStringLiteral("%1%").arg(100.0 * c.probabilities[cls], 0, 'f', 1));
        h->addWidget(name);
        h->addWidget(bar, 1);
        row->setAccessibleName(
            QStringLiteral("%1 %2").arg(c.classNames[cls]).arg(c.probabilities[cls], 0, 'f', 3));
        m_bars->addWidget(row);
        m_rows.push_back(row);
    }
}

void ClassifyPanel::dragEnterEvent(QDragEnterEvent* event) {
    if (event->mimeData()->hasUrls())
        event->acceptProposedAction();
}

void ClassifyPanel::dropEvent(QDropEvent* event) {
    const auto urls = event->mimeData()->urls();
    if (urls.isEmpty() || !urls.front().isLocalFile())
        return;
    classify(urls.front().toLocalFile());
    event->acceptProposedAction();
}

}  // namespace convscope::ui
