#pragma once

#include <QList>
#include <QString>

namespace convscope::ui {

/// One term of Help > Glossary.
struct GlossaryEntry {
    QString id;       ///< stable key ("epoch", "batch"), used by tooltips and tests
    QString term;     ///< as shown ("Batch and batch size")
    QString summary;  ///< one sentence, also the lead of the tooltips of the term's controls
    QString body;     ///< the explanation, as HTML paragraphs
    QString target;   ///< objectName of the widget "Show me" brings forward
    QString where;    ///< where that widget is, in words ("Epochs, Training panel")
};

/// The glossary of Help > Glossary: the terms a learner meets in the window (epoch, batch,
/// input shape, ...), each explained in a few sentences and tied to the control it is about.
/// The table lives in glossary.cpp; everything else (the dialog, the tooltips) reads it.
class Glossary {
public:
    /// Every entry, in the order a course would introduce them; translated.
    static const QList<GlossaryEntry>& entries();
    /// The entry with this id, or nullptr.
    static const GlossaryEntry* find(const QString& id);
    /// Entries whose term, summary or body contains every word of `query` (case-insensitive,
    /// HTML tags ignored); all of them for an empty query.
    static QList<GlossaryEntry> search(const QString& query);
};

}  // namespace convscope::ui
