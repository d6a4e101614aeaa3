#pragma once

#include "models/modelconfig.h"

#include <QWidget>

class QLabel;
class QPushButton;

namespace convscope::ui {

/// The Training tab's Keras network: the model config a user opened (Architecture "keras": a
/// Keras to_json() file or a TF.js layers model.json) and the surgery made on it from the
/// Layers tab (cut after a layer, blocks appended). Shows both in one line with Open… and
/// Undo surgery. Reads files on the GUI thread: model configs are small JSON files.
class NetworkSurgery : public QWidget {
    Q_OBJECT
public:
    explicit NetworkSurgery(QWidget* parent = nullptr);

    /// Asks for a model file; false when cancelled or refused (the reason is shown).
    bool openModel();
    /// Uses a model config already read (from a weight file that carries one).
    void setModel(const std::string& kerasModel, const QString& name, const std::string& cutAfter,
                  const std::string& append);
    bool hasModel() const { return !m_kerasModel.empty(); }

    /// Cuts after `layer`, dropping blocks appended before.
    void cutAfter(const QString& layer);
    /// Appends a spec ("conv:64:3,maxpool:2") after the cut, or after `layer` when nothing is
    /// cut yet. Returns the reason when the spec is refused, else empty.
    QString addBlock(const QString& spec, const QString& layer);
    void undoSurgery();

    /// Takes the Keras form of the built-in network `builtIn` (models/kerasforms.h) as the
    /// model; false when it has none, which a dialog says.
    bool adoptKerasForm(const convscope::ModelConfig& builtIn);
    /// Asks for a spec to add after `layer` (or the cut); empty when cancelled.
    QString askForBlock(const QString& layer);
    /// addBlock, saying in a dialog why a spec is refused.
    void addBlockOrSay(const QString& spec, const QString& layer);

    /// Fills kerasModel, cutAfter and append of a Keras network's config.
    void apply(convscope::ModelConfig& m) const;

    QPushButton* openButton() const { return m_open; }

Q_SIGNALS:
    void changed();

private:
    void refresh();

    std::string m_kerasModel;
    QString m_name;
    std::string m_cutAfter;
    std::string m_append;
    QLabel* m_label;
    QPushButton* m_open;
    QPushButton* m_undo;
};

}  // namespace convscope::ui
