from django import forms


class LinkPullRequestForm(forms.Form):
    pr_url = forms.URLField(
        label="Pull request URL",
        max_length=300,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"placeholder": "https://github.com/owner/name/pull/123"}),
    )
