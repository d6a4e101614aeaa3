#include "ui/help/glossarydialog.h"

#include "ui/help/glossary.h"

#include <QDialogButtonBox>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QSplitter>
#include <QTextBrowser>
#include <QUrl>
#include <QVBoxLayout>

namespace convscope::ui {

namespace {
const QString kShowMeScheme = QStringLiteral("showme");
constexpr int kIdRole = Qt::UserRole;
}  // namespace

GlossaryDialog::GlossaryDialog(QWidget* parent)
    : QDialog(parent),
      m_search(new QLineEdit),
      m_terms(new QListWidget),
      m_text(new QTextBrowser),
      m_showMe(new QPushButton(tr("Show me"))) {
    setObjectName(QStringLiteral("glossaryDialog"));
    setWindowTitle(tr("Glossary"));
    m_search->setPlaceholderText(tr("Search the glossary (e.g. memory, frozen, BGR)"));
    m_search->setClearButtonEnabled(true);
    m_text->setOpenLinks(false);
    m_text->setMinimumWidth(380);
    m_terms->setMinimumWidth(240);
    m_showMe->setToolTip(tr("Bring the control this term is about into view"));

    auto* splitter = new QSplitter;
    splitter->addWidget(m_terms);
    splitter->addWidget(m_text);
    splitter->setStretchFactor(1, 1);
    splitter->setSizes({250, 510});
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close);
    buttons->addButton(m_showMe, QDialogButtonBox::ActionRole);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_search);
    layout->addWidget(splitter, 1);
    layout->addWidget(buttons);
    resize(760, 520);

    connect(m_search, &QLineEdit::textChanged, this, &GlossaryDialog::fillList);
    connect(m_terms, &QListWidget::currentRowChanged, this, &GlossaryDialog::showEntry);
    connect(m_text, &QTextBrowser::anchorClicked, this, &GlossaryDialog::onLink);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(m_showMe, &QPushButton::clicked, this, [this] {
        if (const GlossaryEntry* e = Glossary::find(currentTerm()))
            Q_EMIT showMeRequested(e->target);
    });
    fillList({});
}

QUrl GlossaryDialog::showMeUrl(const QString& target) {
    QUrl url;
    url.setScheme(kShowMeScheme);
    url.setPath(target);
    return url;
}

void GlossaryDialog::fillList(const QString& query) {
    const QString before = currentTerm();
    const QSignalBlocker block(m_terms);
    m_terms->clear();
    for (const GlossaryEntry& e : Glossary::search(query)) {
        auto* item = new QListWidgetItem(e.term, m_terms);
        item->setData(kIdRole, e.id);
        item->setToolTip(e.summary);
        if (e.id == before)
            m_terms->setCurrentItem(item);
    }
    if (!m_terms->currentItem() && m_terms->count() > 0)
        m_terms->setCurrentRow(0);
    showEntry();
}

void GlossaryDialog::setFilter(const QString& query) {
    m_search->setText(query);
}

QStringList GlossaryDialog::visibleTerms() const {
    QStringList ids;
    for (int i = 0; i < m_terms->count(); ++i)
        ids << m_terms->item(i)->data(kIdRole).toString();
    return ids;
}

bool GlossaryDialog::selectTerm(const QString& id) {
    if (!Glossary::find(id))
        return false;
    if (!visibleTerms().contains(id))
        m_search->clear();
    m_terms->setCurrentRow(int(visibleTerms().indexOf(id)));
    return currentTerm() == id;
}

QString GlossaryDialog::currentTerm() const {
    const QListWidgetItem* item = m_terms->currentItem();
    return item ? item->data(kIdRole).toString() : QString();
}

void GlossaryDialog::showEntry() {
    const GlossaryEntry* e = Glossary::find(currentTerm());
    m_showMe->setEnabled(e != nullptr);
    if (!e) {
        m_text->setHtml(tr("<p>No term matches “%1”.</p>").arg(m_search->text().toHtmlEscaped()));
        return;
    }
    m_text->setHtml(QStringLiteral("<h2>%1</h2><p><i>%2</i></p>%3<p>➜ <a href=\"%4\">%5</a></p>")
                        .arg(e->term.toHtmlEscaped(), e->summary.toHtmlEscaped(), e->body,
                             showMeUrl(e->target).toString(),
                             tr("Show me: %1").arg(e->where).toHtmlEscaped()));
}

void GlossaryDialog::onLink(const QUrl& url) {
    if (url.scheme() == kShowMeScheme)
        Q_EMIT showMeRequested(url.path());
}

}  // namespace convscope::ui
