"""Words that say what kind of question is asked, not what it is about (zh and en).

A support engineer types ``怎么重置 root 密码`` or ``how do I reset the root password``: the
words ``怎么`` / ``how do I`` are in thousands of documents and match none of them better
than another. Such words are left out when documents are matched and ranked by their terms,
and kept where word order matters (an exact phrase, the adjacency of the words around them).

The lists are ours: question words, pronouns, particles, auxiliaries and the commonest function
words of both languages. A word only counts as a stop word as written here, so ``IN`` the SQL
operator is a stop word but ``in-memory`` (a code term) is not.
"""

from __future__ import annotations

EN = frozenset(
    """
a about above after again against all also am an and any are aren't as at be because been before
being below between both but by can can't cannot could couldn't did didn't do does doesn't doing
don't down during each else even ever every few for from further get gets getting got had hadn't
has hasn't have haven't having he her here hers herself him himself his how however i if in into
is isn't it it's its itself just keep let like lot lots made make makes many may maybe me might
mine more most much must mustn't my myself need needs no nor not now of off often on once one only
or other others otherwise ought our ours ourselves out over own please possible probably quite
rather really same say says seem seems shall she should shouldn't since so some somehow something
still such sure than that that's the their theirs them themselves then there there's these they
thing things this those though through thus to too try trying under until up upon us use used
uses using very via want wants was wasn't way we well were weren't what what's whatever when
where whether which while who whom whose why will with within without won't would wouldn't yes
yet you your yours yourself yourselves
""".split()
)

ZH = frozenset(
    """
怎么 怎样 怎么样 怎么办 如何 为什么 为啥 为何 什么 啥 哪些 哪个 哪里 哪儿 哪 多少 几 是否 是不是 能否 能不能
可不可以 有没有 会不会 要不要 吗 呢 吧 啊 呀 嘛 么 了 的 地 得 着 过 之 与 及 和 或 或者 以及 并 并且 而 而且
但 但是 如果 那么 因为 所以 这 那 这个 那个 这些 那些 这样 那样 这种 那种 这里 那里 其 它 它们 他 她 他们
我 我们 你 你们 您 咱们 自己 大家 是 在 有 没有 没 能 能够 可以 可能 会 要 想 需要 应该 应当 让 把 被 给
对 对于 从 向 到 于 由 用 将 就 都 也 还 又 再 才 只 很 太 更 最 非常 一下 一个 一些 一直 一样 已经
还是 不 不是 不能 不会 请问 请 问 问题 一般 通常 情况 时候 的话 之后 之前 以后 以前 然后 现在 比如 例如
正在 总是 老是 突然 经常 到底 究竟 好像 似乎 感觉 觉得 发现 出现 怎么回事 就是 只是 其实 确实 真的 比较
特别 有点 有些 一点 所有 全部 每次 各种 之类 等等 等 啦 哦 嗯 呗 咋 咋办 咋样 搞 弄 一下子 这么 那么
""".split()
)


def is_stop(word: str) -> bool:
    """Whether ``word`` (normalised: lower case, simplified) carries no topic of its own."""
    return word in EN or word in ZH
