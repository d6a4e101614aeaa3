#include "ui/training/networksurgery.h"

#include "error.h"
#include "models/kerasconfig.h"
#include "models/kerasforms.h"
#include "models/kerassurgery.h"

#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QInputDialog>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>

namespace convscope::ui {

NetworkSurgery::NetworkSurgery(QWidget* parent)
    : QWidget(parent),
      m_label(new QLabel),
      m_open(new QPushButton(tr("Open Keras model…"))),
      m_undo(new QPushButton(tr("Undo surgery"))) {
    m_label->setWordWrap(true);
    m_open->setToolTip(
        tr("A Keras model.to_json() file or a TF.js layers model.json: its layers become the "
           "network (Architecture: keras)"));
    m_undo->setToolTip(tr("Back to the model as it was opened"));
    auto* row = new QHBoxLayout(this);
    row->setContentsMargins(0, 0, 0, 0);
    row->addWidget(m_label, 1);
    row->addWidget(m_open);
    row->addWidget(m_undo);
    connect(m_open, &QPushButton::clicked, this, [this] { openModel(); });
    connect(m_undo, &QPushButton::clicked, this, &NetworkSurgery::undoSurgery);
    refresh();
}

bool NetworkSurgery::openModel() {
    const QString path = QFileDialog::getOpenFileName(
        this, tr("Keras model"), QString(), tr("Keras model configs (*.json);;All files (*)"));
    if (path.isEmpty())
        return false;
    try {
        setModel(readKerasModelText(path.toStdString()), QFileInfo(path).fileName(), {}, {});
    } catch (const Error& e) {
        QMessageBox::warning(this, tr("Keras model"), QString::fromStdString(e.what()));
        return false;
    }
    return true;
}

void NetworkSurgery::setModel(const std::string& kerasModel, const QString& name,
                              const std::string& cutAfter, const std::string& append) {
    m_kerasModel = kerasModel;
    m_name = name;
    m_cutAfter = cutAfter;
    m_append = append;
    refresh();
    Q_EMIT changed();
}

void NetworkSurgery::cutAfter(const QString& layer) {
    m_cutAfter = layer.toStdString();
    m_append.clear();
    refresh();
    Q_EMIT changed();
}

QString NetworkSurgery::addBlock(const QString& spec, const QString& layer) {
    const std::string cut = m_cutAfter.empty() ? layer.toStdString() : m_cutAfter;
    if (cut.empty())
        return tr("Select the layer to add the block after.");
    const std::string append = m_append.empty() || m_cutAfter.empty()
                                   ? spec.toStdString()
                                   : m_append + "," + spec.toStdString();
    try {
        parseAppendSpec(append, cut, {});
    } catch (const Error& e) {
        return QString::fromStdString(e.what());
    }
    m_cutAfter = cut;
    m_append = append;
    refresh();
    Q_EMIT changed();
    return {};
}

void NetworkSurgery::undoSurgery() {
    m_cutAfter.clear();
    m_append.clear();
    refresh();
    Q_EMIT changed();
}

bool NetworkSurgery::adoptKerasForm(const ModelConfig& built) {
    // A built-in network is cut as its Keras form: the same layers, names and weights.
    try {
        setModel(kerasModelOf(built),
                 tr("%1 (%2 head)")
                     .arg(QString::fromLatin1(architectureName(built.architecture)),
                          QString::fromLatin1(headName(built.head))),
                 {}, {});
    } catch (const Error& e) {
        QMessageBox::warning(this, tr("Network surgery"), QString::fromStdString(e.what()));
        return false;
    }
    return true;
}

QString NetworkSurgery::askForBlock(const QString& layer) {
    bool ok = false;
    const QString spec = QInputDialog::getText(
        this, tr("Add a block"),
        tr("Layers to append, comma-separated (after %1):\n"
           "conv:FILTERS:KERNEL[:STRIDE], sepconv:FILTERS:KERNEL, maxpool:N, avgpool:N, gap, "
           "gmp, flatten, bn, relu, dense:UNITS, dropout:RATE")
            .arg(layer.isEmpty() ? tr("the cut") : layer),
        QLineEdit::Normal, QStringLiteral("conv:64:3,maxpool:2"), &ok);
    return ok ? spec.trimmed() : QString();
}

void NetworkSurgery::addBlockOrSay(const QString& spec, const QString& layer) {
    const QString refused = addBlock(spec, layer);
    if (!refused.isEmpty())
        QMessageBox::warning(this, tr("Add a block"), refused);
}

void NetworkSurgery::apply(ModelConfig& m) const {
    if (m.architecture != Architecture::Keras)
        return;
    m.kerasModel = m_kerasModel;
    m.cutAfter = m_cutAfter;
    m.append = m_append;
}

void NetworkSurgery::refresh() {
    QString text =
        m_kerasModel.empty() ? tr("No Keras model opened.") : tr("Keras model %1").arg(m_name);
    if (!m_cutAfter.empty())
        text += tr(", cut after %1").arg(QString::fromStdString(m_cutAfter));
    if (!m_append.empty())
        text += tr(", then %1").arg(QString::fromStdString(m_append));
    if (!m_cutAfter.empty())
        text += tr(", then a dense layer per class");
    m_label->setText(text);
    m_undo->setEnabled(!m_cutAfter.empty());
}

}  // namespace convscope::ui
