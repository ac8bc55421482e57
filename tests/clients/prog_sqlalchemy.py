"""SQLAlchemy's asyncio ORM over aiosqlite, on a SQLite file in a temp dir."""
import _drop_in

mode = _drop_in.setup()

import asyncio
import os
import sqlite3
import sys
import tempfile
from typing import List

import greenlet
from sqlalchemy import ForeignKey, String, func, select
from sqlalchemy.ext.asyncio import (AsyncAttrs, async_sessionmaker,
                                    create_async_engine)
from sqlalchemy.orm import (DeclarativeBase, Mapped, mapped_column,
                            relationship, selectinload)


class Base(AsyncAttrs, DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "author"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    books: Mapped[List["Book"]] = relationship(back_populates="author",
                                               order_by="Book.id")


class Book(Base):
    __tablename__ = "book"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(80))
    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))
    author: Mapped[Author] = relationship(back_populates="books")


N_AUTHORS, N_BOOKS = 20, 5
seen = []       # greenlets SQLAlchemy ran our sync code in


def sync_part(session):
    # Sync ORM code run by AsyncSession.run_sync() inside SQLAlchemy's
    # greenlet: the lazy loads here go through greenlet switches.
    seen.append(greenlet.getcurrent())
    authors = session.scalars(select(Author).order_by(Author.id)).all()
    return [(a.name, [b.title for b in a.books]) for a in authors]


async def main(path):
    engine = create_async_engine("sqlite+aiosqlite:///" + path)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    Session = async_sessionmaker(engine, expire_on_commit=False)
    async with Session() as s:
        for i in range(N_AUTHORS):
            s.add(Author(name="author%d" % i,
                         books=[Book(title="a%d-b%d" % (i, j)) for j in range(N_BOOKS)]))
        await s.commit()
    expected = [("author%d" % i, ["a%d-b%d" % (i, j) for j in range(N_BOOKS)])
                for i in range(N_AUTHORS)]
    async with Session() as s:          # eager: selectinload
        rows = (await s.scalars(select(Author).options(selectinload(Author.books))
                                .order_by(Author.id))).all()
        assert [(a.name, [b.title for b in a.books]) for a in rows] == expected
    async with Session() as s:          # lazy, awaited: awaitable_attrs
        rows = (await s.scalars(select(Author).order_by(Author.id))).all()
        got = [(a.name, [b.title for b in await a.awaitable_attrs.books]) for a in rows]
        assert got == expected, got
        book = await s.get(Book, 7)
        author = await book.awaitable_attrs.author
        assert author.books[book.id - author.books[0].id] is book
    async with Session() as s:          # lazy, in sync code: run_sync
        assert await s.run_sync(sync_part) == expected
        n = await s.scalar(select(func.count()).select_from(Book))
        assert n == N_AUTHORS * N_BOOKS, n
    await engine.dispose()


with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "test.db")
    asyncio.run(main(path))
    _drop_in.on_ours(seen[0])
    # What the ORM wrote is really in the file.
    db = sqlite3.connect(path)
    assert db.execute("select count(*) from book").fetchone()[0] == N_AUTHORS * N_BOOKS
    assert db.execute("select title from book where id = 7").fetchone()[0] == "a1-b1"
    db.close()
import sqlalchemy
print("OK sqlalchemy %s %s" % (sqlalchemy.__version__, mode))
