#include "ui/dataset/decodedcachebar.h"

#include "data/decodedstore.h"
#include "util/text.h"

#include <QDir>
#include <QHBoxLayout>
#include <QLabel>
#include <QTimer>
#include <QToolButton>

namespace convscope::ui {

DecodedCacheBar::DecodedCacheBar(QWidget* parent)
    : QWidget(parent),
      m_label(new QLabel(this)),
      m_clear(new QToolButton(this)),
      m_timer(new QTimer(this)) {
    m_label->setObjectName(QStringLiteral("decodedCacheText"));
    m_label->setTextFormat(Qt::PlainText);
    m_label->setWordWrap(true);
    m_clear->setObjectName(QStringLiteral("clearDecodedCache"));
    m_clear->setText(tr("Clear"));
    m_clear->setToolTip(
        tr("Remove every decoded image kept on disk; the next run on each "
           "dataset decodes its images again"));
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_label, 1);
    layout->addWidget(m_clear);
    m_timer->setInterval(kRefreshMs);
    connect(m_timer, &QTimer::timeout, this, &DecodedCacheBar::refresh);
    connect(m_clear, &QToolButton::clicked, this, &DecodedCacheBar::clearCache);
    refresh();
}

QString DecodedCacheBar::text() const {
    return m_label->text();
}

void DecodedCacheBar::refresh() {
    const DecodedStore store;
    const DecodedStore::Usage u = store.usage();
    const QString folder = QDir::toNativeSeparators(QString::fromStdString(store.directory()))
                               .replace(QDir::homePath(), QStringLiteral("~"));
    const QString datasets =
        u.packs == 1 ? tr("1 dataset") : tr("%1 datasets").arg(qulonglong(u.packs));
    QString text =
        tr("Decoded-image cache: %1 of %2, %3\nin %4")
            .arg(QString::fromStdString(readableBytes(u.bytes)),
                 QString::fromStdString(readableBytes(store.limitBytes())), datasets, folder);
    if (!m_lastAction.isEmpty())
        text += QStringLiteral(" (") + m_lastAction + QStringLiteral(")");
    m_label->setText(text);
    m_label->setToolTip(
        tr("Training keeps each dataset's decoded images here, so a later run "
           "on unchanged files skips decoding. Change the limit with: "
           "convscope cache limit SIZE"));
    m_clear->setEnabled(u.packs > 0);
}

void DecodedCacheBar::clearCache() {
    const DecodedStore store;
    const DecodedStore::Usage removed = store.clear();
    m_lastAction =
        (removed.packs == 1 ? tr("cleared 1 dataset, %1") : tr("cleared %2 datasets, %1"))
            .arg(QString::fromStdString(readableBytes(removed.bytes)))
            .arg(qulonglong(removed.packs));
    refresh();
}

void DecodedCacheBar::showEvent(QShowEvent* event) {
    QWidget::showEvent(event);
    refresh();
    m_timer->start();
}

void DecodedCacheBar::hideEvent(QHideEvent* event) {
    m_timer->stop();
    QWidget::hideEvent(event);
}

}  // namespace convscope::ui
