#include "ui/training/transferadvice.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QToolButton>

namespace convscope::ui {

namespace {
constexpr int kNamed = 3;  // classes named in the text; the rest are counted
}  // namespace

TransferAdvice::TransferAdvice(QWidget* parent)
    : QFrame(parent),
      m_label(new QLabel),
      m_choose(new QPushButton(tr("Choose starting weights…"))) {
    setObjectName(QStringLiteral("transferAdvice"));
    setFrameShape(QFrame::StyledPanel);
    setStyleSheet(QStringLiteral(
        "#transferAdvice { background: #eaf2fb; border: 1px solid #9cbce0; border-radius: 3px }"));
    m_label->setWordWrap(true);
    auto* close = new QToolButton;
    close->setText(QStringLiteral("×"));
    close->setAutoRaise(true);
    close->setToolTip(tr("Hide this suggestion"));
    m_choose->setToolTip(tr("Takes you to Starting weights in the Training panel"));
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(6, 4, 4, 4);
    layout->addWidget(m_label, 1);
    layout->addWidget(m_choose);
    layout->addWidget(close, 0, Qt::AlignTop);
    connect(m_choose, &QPushButton::clicked, this, &TransferAdvice::startingWeightsRequested);
    connect(close, &QToolButton::clicked, this, &QWidget::hide);
    hide();
}

QString TransferAdvice::adviceText(const QStringList& names, const QList<int>& trainCounts,
                                   int threshold) {
    QStringList small;
    for (int i = 0; i < std::min<int>(names.size(), trainCounts.size()); ++i)
        if (trainCounts[i] < threshold)
            small << tr("%1 (%2)").arg(names[i].toHtmlEscaped()).arg(trainCounts[i]);
    if (small.isEmpty())
        return {};
    QString which = small.mid(0, kNamed).join(QStringLiteral(", "));
    if (small.size() > kNamed)
        which += tr(" and %n more", nullptr, int(small.size()) - kNamed);
    const QString count =
        small.size() == 1 ? tr("1 class has") : tr("%1 classes have").arg(small.size());
    return tr("<b>Few images:</b> %1 fewer than %2 training images: %3. A network trained from "
              "scratch on so little tends to memorise it; fine-tuning a pretrained backbone "
              "usually does much better (Help › Glossary › Transfer learning).")
        .arg(count, QString::number(threshold), which);
}

void TransferAdvice::setClasses(const QStringList& names, const QList<int>& trainCounts,
                                bool hasStartingWeights) {
    m_text = adviceText(names, trainCounts);
    m_label->setText(m_text);
    setVisible(applies() && !hasStartingWeights);
}

void TransferAdvice::remindAtStart() {
    setVisible(applies());
}

void TransferAdvice::dismiss() {
    hide();
}

QString TransferAdvice::text() const {
    return m_label->text();
}

}  // namespace convscope::ui
