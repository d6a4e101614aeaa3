#pragma once

#include <QDialog>

class QLineEdit;
class QListWidget;
class QPushButton;
class QTextBrowser;
class QUrl;

namespace convscope::ui {

/// Help > Glossary: the terms of Glossary in a list that a search box filters, the selected
/// one explained beside it with a "Show me" link to its control. Non-modal; the window does
/// the showing (showMeRequested).
class GlossaryDialog : public QDialog {
    Q_OBJECT
public:
    explicit GlossaryDialog(QWidget* parent = nullptr);

    /// Selects the entry with this Glossary id (clearing a filter that hides it).
    bool selectTerm(const QString& id);
    /// The id of the entry shown, or empty.
    QString currentTerm() const;
    /// Filters the list by the words of `query` (Glossary::search).
    void setFilter(const QString& query);
    /// The ids the list shows now, in order.
    QStringList visibleTerms() const;
    /// The "Show me" link of an entry as the explanation pane writes it.
    static QUrl showMeUrl(const QString& target);

    QLineEdit* searchBox() const { return m_search; }
    QListWidget* termList() const { return m_terms; }
    QTextBrowser* explanation() const { return m_text; }
    QPushButton* showMeButton() const { return m_showMe; }

Q_SIGNALS:
    /// A "Show me" link or button was used: bring the widget of this objectName forward.
    void showMeRequested(const QString& objectName);

private:
    void fillList(const QString& query);
    void showEntry();
    void onLink(const QUrl& url);

    QLineEdit* m_search;
    QListWidget* m_terms;
    QTextBrowser* m_text;
    QPushButton* m_showMe;
};

}  // namespace convscope::ui
