#pragma once

#include <QString>

class QWidget;

namespace convscope::ui {

/// Tooltips for the controls the glossary's terms belong to. Each control's tooltip is its
/// own line (from the table in controltips.cpp, else the one its panel set) followed by the
/// glossary's one-sentence summary of the term, so a term is worded in one place.
class ControlTips {
public:
    /// Sets the tooltips on the named widgets under `root`; returns how many it found.
    /// Running it again changes nothing.
    static int apply(QWidget* root);
    /// The glossary term (an id of Glossary) a control belongs to; empty for none.
    static QString termOf(const QString& objectName);
    /// The tooltip `apply` gives a control named `objectName` whose own tooltip is `current`.
    static QString compose(const QString& objectName, const QString& current);
};

}  // namespace convscope::ui
