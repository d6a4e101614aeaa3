#pragma once

#include "ui/engine/enginebridge.h"

#include <QObject>
#include <QPointer>

namespace convscope::ui {

class GlossaryDialog;
class MainWindow;

/// The learner's help in the main window: Help > Glossary and its "Show me" links, the
/// glossary-based tooltips of the controls, and the hints that depend on the open dataset
/// (the batch-size line's image count, the suggestion to fine-tune when classes are small).
class HelpController : public QObject {
    Q_OBJECT
public:
    /// Sets the tooltips at once; `window` owns the controller and outlives it.
    explicit HelpController(MainWindow* window);

    /// Opens (or raises) the glossary, on the term `id` when given.
    void showGlossary(const QString& id = {});
    /// The glossary window, once opened (nullptr before).
    GlossaryDialog* glossary() const;
    /// Brings the control named `objectName` forward and frames it; false when there is none.
    bool showMe(const QString& objectName);

private:
    void onImported(DatasetPtr dataset);
    void onTrainingStateChanged(bool running);
    void moveGlossaryOffTarget(QWidget* target);

    MainWindow* m_window;
    QPointer<GlossaryDialog> m_glossary;
};

}  // namespace convscope::ui
